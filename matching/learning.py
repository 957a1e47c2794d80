"""What a confirmed decision teaches: the payer's account and name belong to this customer.

Pure: returns the aliases; the agent stores them (table ``aliases``) and hands them to the next
engine, where an alias counts as strongly as a NIT.
"""

from __future__ import annotations

from conciliador.models import StatementLine, normalise_account

from .text import company_key

# Names that say nothing about who paid (bank boilerplate in the payer field).
_GENERIC = {"", "TRANSFERENCIA", "CONSIGNACION", "PAGO", "ACH", "PSE", "DEPOSITO", "EFECTIVO", "CHEQUE"}


def aliases_from(line: StatementLine, customer_id: str) -> list[tuple[str, str, str]]:
    """(kind, value, customer) pairs learned from ``line`` being paid by ``customer_id``."""
    out = []
    account = normalise_account(line.payer_account)
    if len(account) >= 6:
        out.append(("payer_account", account, customer_id))
    name = company_key(line.payer_name) if line.payer_name else ""
    if name not in _GENERIC and len(name) >= 4:
        out.append(("payer_name", name, customer_id))
    return out
