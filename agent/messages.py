"""What finance reads, in Spanish (es-CO) first and English by setting.

Decisions and evidence carry a message *code* and parameters; the text is rendered only when a
person will read it (exceptions file, reports), in the configured language.
"""

from __future__ import annotations

from collections.abc import Mapping

CATALOG: dict[str, dict[str, str]] = {
    "reference_and_amount": {
        "es": "La referencia {reference} aparece en {field} y el valor {amount} es el saldo de la factura {document}.",
        "en": "Reference {reference} appears in {field} and the amount {amount} is the open balance of invoice {document}.",
    },
    "amount_differs": {
        "es": "La referencia {reference} aparece en {field}, pero el valor {amount} no es el saldo {open_amount} de la factura {document}.",
        "en": "Reference {reference} appears in {field}, but the amount {amount} is not the open balance {open_amount} of invoice {document}.",
    },
    "ambiguous": {
        "es": "Varias facturas abiertas coinciden en referencia y valor; elija la correcta.",
        "en": "Several open invoices match both reference and amount; choose the right one.",
    },
    "already_applied": {
        "es": "La factura {document} ya quedó aplicada a otro pago de este extracto.",
        "en": "Invoice {document} was already applied to another payment in this statement.",
    },
    "currency_differs": {
        "es": "La factura {document} está en {item_currency} y el pago en {currency}.",
        "en": "Invoice {document} is in {item_currency} and the payment in {currency}.",
    },
    "no_reference": {
        "es": "No se encontró en el pago ninguna referencia de una factura abierta.",
        "en": "No reference to an open invoice was found in the payment.",
    },
    "not_incoming": {
        "es": "Es un débito o un valor no positivo: no es el pago de un cliente.",
        "en": "A debit or a non-positive amount: not a customer payment.",
    },
    "no_company": {
        "es": "La cuenta {account} no pertenece a ninguna empresa configurada.",
        "en": "Account {account} belongs to no configured company.",
    },
    "customer_and_amount": {
        "es": "El cliente está identificado y el valor solo se explica con las facturas aplicadas.",
        "en": "The customer is identified and only the invoices applied explain the amount.",
    },
    "on_account": {
        "es": "Aplicado como anticipo en la cuenta del cliente.",
        "en": "Applied on the customer's account.",
    },
    "neighbour_fits": {
        "es": "El número citado no explica el valor, pero la factura {documents}, a un carácter de distancia, sí.",
        "en": "The number quoted does not explain the amount, but invoice {documents}, one character away, does.",
    },
    "reference_found": {
        "es": "La referencia {reference} aparece en {field}: factura {document}, saldo {open_amount}.",
        "en": "Reference {reference} appears in {field}: invoice {document}, open balance {open_amount}.",
    },
    "reference_typo": {
        "es": "El número {reference} difiere en un carácter de la factura {expected} ({document}) del mismo cliente.",
        "en": "Number {reference} is one character away from invoice {expected} ({document}) of the same customer.",
    },
    "customer_by_nit": {
        "es": "El NIT {nit} del pago es el del cliente {customer}.",
        "en": "The payment's NIT {nit} is customer {customer}'s.",
    },
    "reference_split": {
        "es": "La referencia del pagador {reference} se separó con el formato {layout} de reference_layouts: {parts}.",
        "en": "The payer's reference {reference} was split by layout {layout} of reference_layouts: {parts}.",
    },
    "customer_by_number": {
        "es": "El número de cliente {number} de la referencia del pagador es el del cliente {customer}.",
        "en": "Customer number {number} in the payer's reference is customer {customer}'s.",
    },
    "customer_number_unconfirmed": {
        "es": "El número de cliente {number} de la referencia del pagador es el del cliente {customer}, pero "
              "ninguna factura de la referencia es suya: por sí solo no dice quién pagó.",
        "en": "Customer number {number} in the payer's reference is customer {customer}'s, but no invoice in "
              "the reference is theirs: on its own it does not say who paid.",
    },
    "reference_parts_disagree": {
        "es": "La referencia del pagador trae el número de cliente {number}, pero su factura ({documents}) es de "
              "otro cliente.",
        "en": "The payer's reference carries customer number {number}, but its invoice ({documents}) is another "
              "customer's.",
    },
    "customer_by_alias_account": {
        "es": "La cuenta del pagador ya fue confirmada antes como del cliente {customer}.",
        "en": "The payer's account was confirmed before as customer {customer}'s.",
    },
    "customer_by_alias_name": {
        "es": "El nombre del pagador ya fue confirmado antes como el del cliente {customer}.",
        "en": "The payer's name was confirmed before as customer {customer}'s.",
    },
    "customer_by_name": {
        "es": "El nombre del pagador se parece al del cliente {customer} ({score} de 100).",
        "en": "The payer's name resembles customer {customer}'s ({score} out of 100).",
    },
    "name_ambiguous": {
        "es": "El nombre del pagador se parece a varios clientes; no se eligió ninguno.",
        "en": "The payer's name resembles several customers; none was chosen.",
    },
    "name_overruled": {
        "es": "El nombre del pagador se parece a otro cliente, pero la factura citada explica el pago.",
        "en": "The payer's name resembles another customer, but the invoice quoted explains the payment.",
    },
    "customer_conflict": {
        "es": "El pagador parece ser el cliente {customer}, pero las facturas citadas ({documents}) son de otro.",
        "en": "The payer looks like customer {customer}, but the invoices quoted ({documents}) are another's.",
    },
    "ambiguous_reference": {
        "es": "Las referencias del pago corresponden a facturas de varios clientes.",
        "en": "The payment's references belong to invoices of several customers.",
    },
    "partial_payment": {
        "es": "Abono de {amount} a la factura {document} (saldo {open_amount}); quedan {left} pendientes.",
        "en": "Partial payment of {amount} to invoice {document} (balance {open_amount}); {left} remain open.",
    },
    "plus_unreferenced": {
        "es": "El excedente paga exactamente la factura {document}, que el pago no citaba.",
        "en": "The excess pays exactly invoice {document}, which the payment did not quote.",
    },
    "overpayment_on_account": {
        "es": "El pago supera las facturas citadas; {on_account} quedan como anticipo del cliente.",
        "en": "The payment exceeds the invoices quoted; {on_account} stays on the customer's account.",
    },
    "amount_unique": {
        "es": "El valor solo coincide con la factura {document} entre las abiertas del cliente.",
        "en": "The amount fits only invoice {document} among the customer's open ones.",
    },
    "oldest_of_identical": {
        "es": "Varias facturas idénticas ({documents}); se aplicó la más antigua, como indica la configuración.",
        "en": "Several identical invoices ({documents}); the oldest was applied, as configured.",
    },
    "combination_unique": {
        "es": "El valor es exactamente la suma de las facturas {documents}, y de ninguna otra combinación.",
        "en": "The amount is exactly the sum of invoices {documents}, and of no other combination.",
    },
    "search_incomplete": {
        "es": "No se revisaron todas las combinaciones de facturas del cliente; confirme la propuesta.",
        "en": "Not every combination of the customer's invoices was checked; confirm the proposal.",
    },
    "customer_known_on_account": {
        "es": "Cliente {customer} identificado sin facturas que expliquen el valor: se aplica como anticipo.",
        "en": "Customer {customer} identified but no invoice explains the amount: applied on account.",
    },
    "customer_known_invoices_not": {
        "es": "Cliente {customer} identificado, pero ninguna factura abierta explica el valor.",
        "en": "Customer {customer} identified, but no open invoice explains the amount.",
    },
    "amount_only": {
        "es": "Sin cliente ni referencia; {count} factura(s) abierta(s) tienen exactamente este valor.",
        "en": "No customer or reference; {count} open invoice(s) have exactly this amount.",
    },
    "net_of_withholding": {
        "es": "El valor es neto de retenciones: {profile}.",
        "en": "The amount is net of withholdings: {profile}.",
    },
    "write_off": {
        "es": "Diferencia de {amount} dentro de la tolerancia: se lleva a gasto.",
        "en": "Difference of {amount} within tolerance: written off.",
    },
    "within_tolerance": {
        "es": "El valor difiere de la factura dentro de la tolerancia configurada.",
        "en": "The amount differs from the invoice within the configured tolerance.",
    },
    "below_threshold": {
        "es": "La propuesta tiene confianza {score}, por debajo del mínimo {threshold} para aplicar sola.",
        "en": "The proposal's confidence is {score}, below the minimum {threshold} to apply by itself.",
    },
    "reversal": {
        "es": "Es una reversión o devolución, no un pago de cliente.",
        "en": "A reversal or return, not a customer payment.",
    },
    "internal_transfer": {
        "es": "Es un traslado entre cuentas propias, no un pago de cliente.",
        "en": "A transfer between the company's own accounts, not a customer payment.",
    },
    "bank_interest": {
        "es": "Son intereses o rendimientos del banco, no un pago de cliente.",
        "en": "Bank interest, not a customer payment.",
    },
    "possible_duplicate": {
        "es": "Idéntico a otra línea del extracto ({line}): posible duplicado.",
        "en": "Identical to another statement line ({line}): possible duplicate.",
    },
    "amount_precision": {
        "es": "El valor tiene más decimales de los que puede tener una factura.",
        "en": "The amount has more decimals than an invoice can have.",
    },
    "posting_failed": {
        "es": "El ERP rechazó la aplicación: {error}",
        "en": "The ERP refused the application: {error}",
    },
    "posting_failed_partly": {
        "es": "El ERP rechazó la aplicación después de registrar {documents}: {error}. No la aplique de nuevo "
              "(el dinero quedaría dos veces): termine la aplicación a mano en el ERP, o reverse ese documento y "
              "aplique el pago allí, y marque la línea «ignorar».",
        "en": "The ERP refused the application after recording {documents}: {error}. Do not apply it again "
              "(the money would be recorded twice): finish the application by hand in the ERP, or reverse that "
              "document and apply the payment there, and mark the line \"ignore\".",
    },
    # -- the exception workbook and its round trip (agent/workbook.py, agent/resolutions.py) --
    "reversal_failed": {
        "es": "El ERP rechazó la reversión: {error}",
        "en": "The ERP refused the reversal: {error}",
    },
    "candidate_exact": {
        "es": "Paga exactamente el saldo.",
        "en": "Pays the open balance exactly.",
    },
    "candidate_net": {
        "es": "Paga el saldo neto de retenciones ({withholdings}).",
        "en": "Pays the balance net of withholdings ({withholdings}).",
    },
    "candidate_partial": {
        "es": "No alcanza para las facturas: quedarían {left} por pagar (abono).",
        "en": "Not enough for the invoices: {left} would stay unpaid (partial payment).",
    },
    "candidate_differs": {
        "es": "Queda una diferencia de {difference} frente al pago.",
        "en": "Leaves a difference of {difference} against the payment.",
    },
    "resolved_by_finance": {
        "es": "Resuelto por finanzas en {file}, hoja {sheet}, fila {row}: {action}.",
        "en": "Resolved by finance in {file}, sheet {sheet}, row {row}: {action}.",
    },
    "finance_note": {
        "es": "Nota: {note}",
        "en": "Note: {note}",
    },
    "reversed_by_finance": {
        "es": "Finanzas reversó el documento {document} ({file}, fila {row}); la línea queda pendiente.",
        "en": "Finance reversed document {document} ({file}, row {row}); the line is pending again.",
    },
    "finance_not_payment": {
        "es": "Finanzas indicó que no es el pago de un cliente.",
        "en": "Finance marked it as not a customer payment.",
    },
    "finance_return": {
        "es": "Finanzas indicó devolver el dinero al pagador.",
        "en": "Finance marked the money to be returned to the payer.",
    },
    "finance_ignore": {
        "es": "Finanzas indicó ignorar la línea.",
        "en": "Finance marked the line to be ignored.",
    },
    "row_applied": {
        "es": "Aplicado a {documents} del cliente {customer}; va al ERP con la llave {key}.",
        "en": "Applied to {documents} of customer {customer}; sent to the ERP with key {key}.",
    },
    "row_on_account": {
        "es": "{amount} quedan como anticipo del cliente {customer}; va al ERP con la llave {key}.",
        "en": "{amount} stays on customer {customer}'s account; sent to the ERP with key {key}.",
    },
    "row_partial": {
        "es": "Abono parcial: la factura {document} queda con saldo {left}.",
        "en": "Partial payment: invoice {document} keeps a balance of {left}.",
    },
    "row_recorded": {
        "es": "Registrado ({action}); no se envía nada al ERP.",
        "en": "Recorded ({action}); nothing is sent to the ERP.",
    },
    "row_reversal": {
        "es": "La reversión del documento {document} va al ERP con la llave {key}; la línea vuelve a Pendientes.",
        "en": "The reversal of document {document} is sent to the ERP with key {key}; the line returns to Pending.",
    },
    "row_unknown_action": {
        "es": "La acción «{action}» no existe; elija una de la lista desplegable.",
        "en": "The action \"{action}\" does not exist; choose one from the drop-down list.",
    },
    "row_wrong_sheet": {
        "es": "La acción «{action}» no se usa en la hoja {sheet}.",
        "en": "The action \"{action}\" is not used on sheet {sheet}.",
    },
    "row_ids_changed": {
        "es": "Las columnas ocultas de esta fila (línea, identidad, versión) fueron cambiadas o borradas; "
              "copie la fila del libro como lo escribió el agente.",
        "en": "The hidden columns of this row (line, identity, version) were changed or deleted; "
              "copy the row from the workbook as the agent wrote it.",
    },
    "row_stale": {
        "es": "La línea cambió desde que se generó este libro (ahora: {now}); use el libro más reciente.",
        "en": "The line changed since this workbook was written (now: {now}); use the latest workbook.",
    },
    "row_already_same": {
        "es": "Ya resuelta con la misma decisión en {file}, hoja {sheet}, fila {row}; no se aplica de nuevo.",
        "en": "Already resolved with the same decision in {file}, sheet {sheet}, row {row}; not applied again.",
    },
    "row_conflict": {
        "es": "Esta línea ya fue decidida distinto en {file}, hoja {sheet}, fila {row} («{action}»); dos "
              "personas la editaron. Revise cuál decisión vale.",
        "en": "This line was already decided differently in {file}, sheet {sheet}, row {row} (\"{action}\"); "
              "two people edited it. Check which decision stands.",
    },
    "row_duplicate_conflict": {
        "es": "La misma línea aparece en las filas {rows} con decisiones distintas; deje una sola fila.",
        "en": "The same line appears in rows {rows} with different decisions; keep a single row.",
    },
    "row_no_action": {
        "es": "La fila tiene {columns} pero no una Acción; no se aplicó. Elija la acción en la lista desplegable.",
        "en": "The row has {columns} but no Action; it was not applied. Choose the action from the drop-down list.",
    },
    "row_number_cell": {
        "es": "La celda {column} quedó guardada como el número {value}: Excel convierte en número lo que parece "
              "uno («5,7» se vuelve el número 5,7, no las facturas 5 y 7), así que no se sabe qué escribió. "
              "Escríbala como texto: en Facturas, las facturas separadas por espacios o «;» (5; 7 o FE-5 FE-7); "
              "o cualquier valor con un apóstrofo delante ('5,7).",
        "en": "The {column} cell was stored as the number {value}: Excel turns into a number whatever looks like "
              "one (on a Spanish system \"5,7\" becomes the number 5.7, not invoices 5 and 7), so what was typed "
              "is lost. Type it as text: in Invoices, invoices separated by spaces or \";\" (5; 7 or FE-5 FE-7); "
              "or any value with an apostrophe in front ('5,7).",
    },
    "row_number_too_long": {
        "es": "La celda {column} quedó guardada como el número {value}, de más de 15 dígitos: Excel redondea "
              "los números tan largos, así que puede no ser el que escribió. Escríbalo como texto (con un "
              "apóstrofo delante) o escriba el número de documento corto.",
        "en": "The {column} cell was stored as the number {value}, over 15 digits: Excel rounds numbers that "
              "long, so it may not be the one typed. Type it as text (with an apostrophe in front) or write "
              "the short document number.",
    },
    "row_date_cell": {
        "es": "La celda {column} quedó guardada como la fecha {value} (Excel convierte «5/7» en una fecha). "
              "Escríbala como texto: las facturas separadas por espacios o «;», o con un apóstrofo delante.",
        "en": "The {column} cell was stored as the date {value} (Excel turns \"5/7\" into a date). Type it as "
              "text: invoices separated by spaces or \";\", or with an apostrophe in front.",
    },
    "row_no_company": {
        "es": "La cuenta {account} no pertenece a ninguna empresa configurada; agréguela a la configuración "
              "y espere a que el agente decida la línea.",
        "en": "Account {account} belongs to no configured company; add it to the configuration and wait "
              "for the agent to decide the line.",
    },
    "row_not_incoming": {
        "es": "La línea es un débito o un valor no positivo; solo un pago recibido se aplica a facturas.",
        "en": "The line is a debit or a non-positive amount; only money received is applied to invoices.",
    },
    "row_no_candidate": {
        "es": "La fila no tiene candidato {n}; elija otro o «aplicar a facturas».",
        "en": "The row has no candidate {n}; choose another or \"apply to invoices\".",
    },
    "row_invoices_missing": {
        "es": "Escriba en la columna Facturas los números de las facturas, separados por comas.",
        "en": "Write the invoice numbers in the Invoices column, separated by commas.",
    },
    "row_unknown_invoice": {
        "es": "La factura «{invoice}» no está abierta en el ERP (no existe, es de otra empresa o ya está pagada).",
        "en": "Invoice \"{invoice}\" is not open in the ERP (it does not exist, is another company's or is paid).",
    },
    "row_ambiguous_invoice": {
        "es": "«{invoice}» corresponde a varias facturas ({documents}); escriba el número de documento.",
        "en": "\"{invoice}\" matches several invoices ({documents}); write the document number.",
    },
    "row_mixed_customers": {
        "es": "Las facturas son de clientes distintos ({customers}); un pago se aplica a un solo cliente.",
        "en": "The invoices belong to different customers ({customers}); a payment is applied to one customer.",
    },
    "row_customer_mismatch": {
        "es": "La factura {invoice} es del cliente {owner}, no de {customer}.",
        "en": "Invoice {invoice} belongs to customer {owner}, not {customer}.",
    },
    "row_unknown_customer": {
        "es": "El cliente «{customer}» no existe en el ERP; escriba su código.",
        "en": "Customer \"{customer}\" does not exist in the ERP; write their code.",
    },
    "row_customer_missing": {
        "es": "Escriba el cliente (su código) en la columna Cliente.",
        "en": "Write the customer (their code) in the Customer column.",
    },
    "row_currency": {
        "es": "La factura {invoice} está en {item_currency} y el pago en {currency}.",
        "en": "Invoice {invoice} is in {item_currency} and the payment in {currency}.",
    },
    "row_exceeds": {
        "es": "El pago ({amount}) supera el saldo de las facturas ({open}) en {excess}; elija «anticipo» "
              "para dejar el excedente en la cuenta del cliente, o agregue facturas.",
        "en": "The payment ({amount}) exceeds the invoices' balance ({open}) by {excess}; choose \"on account\" "
              "to leave the excess on the customer's account, or add invoices.",
    },
    "row_nothing_on_account": {
        "es": "El pago ({amount}) no cubre las facturas ({open}); no queda nada para anticipo. Elija "
              "«aplicar a facturas» para un abono.",
        "en": "The payment ({amount}) does not cover the invoices ({open}); nothing is left on account. "
              "Choose \"apply to invoices\" for a partial payment.",
    },
    "row_invoice_taken": {
        "es": "La factura {invoice} ya no tiene saldo para este pago: otra fila de este archivo o una "
              "aplicación en camino al ERP la usa (saldo libre {open}).",
        "en": "Invoice {invoice} has no balance left for this payment: another row of this file or an "
              "application on its way to the ERP uses it (free balance {open}).",
    },
    "row_reversal_in_flight": {
        "es": "La reversión del documento {document} aún no está confirmada por el ERP; vuelva a intentarlo "
              "cuando lo esté.",
        "en": "The reversal of document {document} is not confirmed by the ERP yet; try again once it is.",
    },
    "row_reversal_failed": {
        "es": "El ERP rechazó la reversión del documento {document}, que sigue aplicado; reviértalo a mano en el "
              "ERP, aplíquelo allí como corresponda y marque la línea «ignorar».",
        "en": "The ERP refused the reversal of document {document}, which stays applied; reverse it by hand in "
              "the ERP, apply it there as it should be and mark the line \"ignore\".",
    },
    "row_partially_posted": {
        "es": "El ERP ya registró parte de la aplicación anterior ({documents}, llave {key}) antes de rechazar "
              "el resto; aplicarla de nuevo registraría el dinero dos veces. Termine la aplicación a mano en el "
              "ERP, o reverse ese documento y aplique el pago allí, y marque la línea «ignorar».",
        "en": "The ERP already recorded part of the earlier application ({documents}, key {key}) before "
              "refusing the rest; applying it again would record the money twice. Finish the application by "
              "hand in the ERP, or reverse that document and apply the payment there, and mark the line "
              "\"ignore\".",
    },
    "row_internal_error": {
        "es": "Error interno al procesar la fila ({error}); informe a TI con este archivo.",
        "en": "Internal error while processing the row ({error}); tell IT, with this file.",
    },
    "row_not_posted": {
        "es": "La aplicación aún no tiene documento en el ERP (estado {state}); reverse cuando lo tenga.",
        "en": "The application has no ERP document yet (state {state}); reverse it once it has.",
    },
    "row_nothing_to_reverse": {
        "es": "La línea no tiene una aplicación en el ERP que se pueda reversar.",
        "en": "The line has no application in the ERP that can be reversed.",
    },
    "row_key_taken": {
        "es": "La llave {key} ya está usada en la bandeja de salida; informe a TI.",
        "en": "Key {key} is already used in the outbox; tell IT.",
    },
    "file_not_xlsx": {
        "es": "El archivo {file} no es un libro de Excel .xlsx. Guárdelo como «Libro de Excel (.xlsx)» y "
              "déjelo de nuevo en resoluciones.",
        "en": "The file {file} is not an Excel .xlsx workbook. Save it as \"Excel Workbook (.xlsx)\" and drop "
              "it into resolutions again.",
    },
    "file_too_large": {
        "es": "El archivo {file} ocupa {size} MB al descomprimirlo, más que el límite de {limit} MB para un "
              "libro de excepciones; no se abrió. Deje solo las hojas del agente, o reparta las filas en "
              "varios archivos.",
        "en": "The file {file} takes {size} MB uncompressed, over the {limit} MB limit for an exception "
              "workbook; it was not opened. Keep only the agent's sheets, or split the rows into several files.",
    },
    "file_too_large_on_disk": {
        "es": "El archivo {file} ocupa {size} MB, más que el límite de {limit} MB para un libro de "
              "excepciones; no se abrió. Deje solo las hojas del agente, o reparta las filas en varios archivos.",
        "en": "The file {file} takes {size} MB, over the {limit} MB limit for an exception workbook; it was "
              "not opened. Keep only the agent's sheets, or split the rows into several files.",
    },
    "file_too_many_parts": {
        "es": "El archivo {file} tiene {parts} partes internas (hojas, imágenes, estilos…), más que las {limit} "
              "que admite un libro de excepciones; no se abrió. Copie las hojas Pendientes y Aplicados hoy a "
              "un libro nuevo.",
        "en": "The file {file} has {parts} internal parts (sheets, images, styles…), more than the {limit} an "
              "exception workbook may have; it was not opened. Copy the Pending and Applied today sheets into "
              "a new workbook.",
    },
    "file_too_many_rows": {
        "es": "La hoja {sheet} de {file} tiene más de {limit} filas, más de las que admite un libro de "
              "excepciones; no se aplicó nada. Borre las filas sobrantes al final de la hoja, o reparta las "
              "filas en varios archivos.",
        "en": "Sheet {sheet} of {file} has more than {limit} rows, more than an exception workbook may have; "
              "nothing was applied. Delete the extra rows at the end of the sheet, or split the rows into "
              "several files.",
    },
    "file_suspicious": {
        "es": "El archivo {file} tiene una parte ({member}) que se expande {ratio} veces; parece una bomba "
              "zip y no se abrió.",
        "en": "The file {file} has a part ({member}) that expands {ratio} times; it looks like a zip bomb "
              "and was not opened.",
    },
    "file_unreadable": {
        "es": "No se pudo leer {file} como libro .xlsx: {error}",
        "en": "Could not read {file} as an .xlsx workbook: {error}",
    },
    "file_sheet_unreadable": {
        "es": "La hoja {sheet} de {file} no se puede leer desde la fila {row} ({error}); no se aplicó nada. "
              "Ábrala en Excel, revise esa fila, guárdela como «Libro de Excel (.xlsx)» y déjela de nuevo en "
              "resoluciones.",
        "en": "Sheet {sheet} of {file} cannot be read from row {row} on ({error}); nothing was applied. Open it "
              "in Excel, check that row, save it as \"Excel Workbook (.xlsx)\" and drop it into resolutions again.",
    },
    "file_internal_error": {
        "es": "Error interno al procesar {file} ({error}); el archivo se apartó para que no detenga a los demás. "
              "Informe a TI con este archivo.",
        "en": "Internal error while processing {file} ({error}); the file was set aside so it does not hold up "
              "the others. Tell IT, with this file.",
    },
    "file_internal_error_what_to_do": {
        "es": "Antes del error ya se habían aplicado filas de este archivo ({applied}). Si lo deja de nuevo en "
              "resoluciones, esas filas salen como aplicadas y se procesan las demás.",
        "en": "Rows of this file were applied before the error ({applied}). Dropping it into resolutions again "
              "reports those rows as applied and processes the rest.",
    },
    "file_not_exception_workbook": {
        "es": "{file} no es un libro de excepciones de conciliador: no tiene la hoja {sheets}.",
        "en": "{file} is not a conciliador exception workbook: it has no sheet {sheets}.",
    },
    "file_missing_columns": {
        "es": "La hoja {sheet} de {file} no tiene las columnas {columns}; use el libro como lo escribió el agente.",
        "en": "Sheet {sheet} of {file} lacks the columns {columns}; use the workbook as the agent wrote it.",
    },
    "file_quarantined_what_to_do": {
        "es": "Qué hacer: corrija o reemplace el archivo y déjelo de nuevo en la carpeta de resoluciones; "
              "no se aplicó nada de este archivo.",
        "en": "What to do: fix or replace the file and drop it into the resolutions folder again; nothing "
              "from this file was applied.",
    },
}


def format_amount(amount, language: str = "es") -> str:
    """An amount for a sentence: ``1.234.567,89`` in es-CO, ``1,234,567.89`` in English."""
    text = f"{amount:,.2f}"
    return text.translate(str.maketrans(",.", ".,")) if language == "es" else text


FIELD_NAMES: dict[str, dict[str, str]] = {
    "es": {"remittance": "el texto del pago", "bank_reference": "la referencia del banco",
           "end_to_end_id": "la referencia del pagador", "payer_name": "el nombre del pagador"},
    "en": {"remittance": "the payment text", "bank_reference": "the bank reference",
           "end_to_end_id": "the payer's reference", "payer_name": "the payer's name"},
}


# The parts of a packed reference (matching/layouts.py), named as finance says them.
PART_NAMES: dict[str, dict[str, str]] = {
    "es": {"invoice": "factura", "nit": "NIT", "customer": "cliente"},
    "en": {"invoice": "invoice", "nit": "NIT", "customer": "customer"},
}


def _parts(text: str, language: str) -> str:
    """``nit=9001234568;invoice=00045678`` -> ``NIT 9001234568, factura 00045678``; a part of only
    zeros is absent and not shown (evidence written before layouts left such parts out)."""
    names = PART_NAMES.get(language, PART_NAMES["es"])
    out = []
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if value and not value.strip("0"):
            continue
        out.append(f"{names.get(name.rstrip('0123456789'), name)} {value}".strip())
    return ", ".join(out)


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(code: str, params: Mapping[str, str] | None = None, language: str = "es") -> str:
    """The sentence for ``code`` in ``language``; unknown codes are shown as they are."""
    texts = CATALOG.get(code)
    if texts is None:
        return code
    values = dict(params or {})
    if "field" in values:
        values["field"] = FIELD_NAMES.get(language, FIELD_NAMES["es"]).get(values["field"], values["field"])
    if code == "reference_split" and "parts" in values:
        values["parts"] = _parts(values["parts"], language)
    return texts.get(language, texts["es"]).format_map(_Keep(values))
