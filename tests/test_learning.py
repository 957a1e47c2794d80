"""What finance confirms is learned: the next payment from the same payer is applied by the agent
itself. (The exception workbook that records finance's confirmation calls the same learn().)"""

from __future__ import annotations

import json

from conftest import ACCOUNT, cli, make_workspace

from conciliador.learning import aliases, learn
from conciliador.models import StatementLine
from conciliador.store import Database


def _statement(rows: list[tuple[str, str]]) -> bytes:
    text = "account,booking_date,amount,currency,bank_reference,payer_name,payer_account,remittance\n"
    text += "".join(f"{ACCOUNT},2026-11-20,{amount},COP,{ref},GRUPO EMPRESARIAL PQR,0550-123456-78,PAGO PROVEEDOR\n"
                    for amount, ref in rows)
    return text.encode()


def test_confirmed_payer_is_applied_next_time(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    first_doc, _, customer, first_total = ws.invoices[0]
    second_doc, _, _, second_total = next(i for i in ws.invoices[1:] if i[2] == customer)

    (ws.inbox / "dia1.csv").write_bytes(_statement([(f"{first_total}", "R1")]))
    assert cli("run", "--once", "--config", str(ws.config)).returncode == 0
    assert ws.postings() == []  # an unknown payer: finance is asked
    [(line_json,)] = ws.query("SELECT data FROM statement_lines")

    # Finance confirms that payment as the customer's (what the workbook round trip records).
    db = Database.open(ws.root / "state")
    with db.transaction() as conn:
        assert learn(db, conn, "acme", StatementLine.model_validate_json(line_json), customer, "resolución de prueba") == 2
    assert ("payer_account", "55012345678", customer) in aliases(db, "acme")
    db.close()

    (ws.inbox / "dia2.csv").write_bytes(_statement([(f"{second_total}", "R2")]))
    assert cli("run", "--once", "--config", str(ws.config)).returncode == 0
    assert [p["applied_document"] for p in ws.postings()] == [second_doc]
    [(evidence,)] = ws.query("SELECT data FROM decisions WHERE kind = 'apply'")
    assert "customer_by_alias_account" in {e["code"] for e in json.loads(evidence)["evidence"]}
    assert ws.query("SELECT count(*) FROM audit WHERE event = 'alias_learned'")[0][0] == 2
    assert first_doc not in [p["applied_document"] for p in ws.postings()]
