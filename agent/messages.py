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
}


FIELD_NAMES: dict[str, dict[str, str]] = {
    "es": {"remittance": "el texto del pago", "bank_reference": "la referencia del banco",
           "end_to_end_id": "la referencia del pagador", "payer_name": "el nombre del pagador"},
    "en": {"remittance": "the payment text", "bank_reference": "the bank reference",
           "end_to_end_id": "the payer's reference", "payer_name": "the payer's name"},
}


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
    return texts.get(language, texts["es"]).format_map(_Keep(values))
