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
