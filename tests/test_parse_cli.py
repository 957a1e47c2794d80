"""``conciliador parse FILE``: what the agent reads from a bank file, without storing anything."""

from __future__ import annotations

import json

from conftest import cli, make_workspace


def test_parse_shows_format_statement_balances_and_lines(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    path = tmp_path / "extracto.csv"
    path.write_text("# conciliador-csv v1\n# statement_id=EXT-7\n# opening_balance=1000.00\n# closing_balance=1300.00\n"
                    "account,booking_date,amount,currency,bank_reference,remittance\n"
                    "0123-456789-01,2026-11-20,500.00,COP,R1,PAGO FE-1\n"
                    "0123-456789-01,2026-11-21,-150.00,COP,R2,COMISION\n", encoding="utf-8")
    result = cli("parse", str(path))
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "format: conciliador-csv" in out
    assert "statement EXT-7 account 0123-456789-01 COP 2026-11-20 .. 2026-11-21" in out
    assert "opening 1000.00 closing 1300.00" in out and "balance break -50.00" in out
    assert "lines 2 credits 500.00 debits 150.00" in out and "PAGO FE-1" in out
    assert not list(ws.inbox.iterdir())  # nothing was taken or stored anywhere


def test_parse_json_prints_every_line(tmp_path):
    path = tmp_path / "e.csv"
    rows = "".join(f"0123,2026-11-20,{n}.00,COP,R{n},T{n}\n" for n in range(1, 26))
    path.write_text("account,booking_date,amount,currency,bank_reference,remittance\n" + rows, encoding="utf-8")
    result = cli("parse", "--json", str(path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 25 and lines[-1]["amount"] == "25.00" and lines[0]["position"] == "line 2"


def test_parse_refuses_with_position_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("account,booking_date,amount,currency\n0123,2026-11-20,abc,COP\n", encoding="utf-8")
    result = cli("parse", str(path))
    assert result.returncode == 1
    assert "line 2, field amount" in " ".join(result.stderr.split())


def test_parse_unknown_file(tmp_path):
    path = tmp_path / "photo.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    result = cli("parse", str(path))
    assert result.returncode == 1 and "no installed bank format" in result.stderr
