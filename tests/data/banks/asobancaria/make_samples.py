"""Writes the Asobancaria 2001 samples of this folder (run once; the files are committed).

Layout per Asobancaria 2001 (see plugins/banks/asobancaria.py). The data are invented: a
utility ("Acueducto de Ejemplo S.A. E.S.P.", NIT 8909001234) collecting invoice payments through
Bancolombia (007) and Davivienda (051).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
W = 162


def r01(date: str, bank: str, account: str, *, nit: str = "8909001234", fdate: str | None = None,
        ftime: str = "0615", modifier: str = "A", account_type: str = "02", reserved: str = "") -> str:
    return (f"01{nit:0>10}{date}{bank}{account:0>17}{fdate or date}{ftime}{modifier}{account_type}" + reserved).ljust(W)


def r05(lot: str, service: str = "7709998001234") -> str:
    return f"05{service:0>13}{lot:0>4}".ljust(W)


def r06(ref: str, cents: int, *, origin: str = "01", means: str = "01", op: str = "000000", auth: str = "000000",
        bank: str = "007", branch: str = "0123", seq: int = 1, reason: str = "000") -> str:
    return f"06{ref:0>48}{cents:014d}{origin}{means}{op:>6}{auth:>6}{bank}{branch}{seq:07d}{reason}".ljust(W)


def r08(count: int, cents: int, lot: str) -> str:
    return f"08{count:09d}{cents:018d}{lot:0>4}".ljust(W)


def r09(count: int, cents: int) -> str:
    return f"09{count:09d}{cents:018d}".ljust(W)


def lot(number: str, details: list[tuple], first_seq: int = 1, **kw) -> list[str]:
    records = [r05(number, **kw)]
    for i, (ref, cents, extra) in enumerate(details):
        records.append(r06(ref, cents, seq=first_seq + i, **extra))
    records.append(r08(len(details), sum(c for _, c, _ in details), number))
    return records


def main() -> None:
    # 1. One lot, CRLF, every record padded to 162, final newline: the textbook file.
    details = [
        ("10011", 35000000, {}),                                     # invoice 10011, cash
        ("10012", 1250050, {"means": "02"}),                          # cheque
        ("10027", 48990000, {"origin": "03", "means": "15", "bank": "051"}),  # ACH, internet debit
        ("7700000010031", 9900, {"origin": "07", "means": "23", "auth": "A1B2C3"}),  # card in a POS
        ("10044", 120000000, {"means": "03", "op": "004512"}),        # drop box
    ]
    records = [r01("20261120", "007", "69812345678", ftime="2310")] + lot("0001", details) + [
        r09(5, sum(c for _, c, _ in details))]
    (HERE / "recaudo_bancolombia_crlf.txt").write_bytes(("\r\n".join(records) + "\r\n").encode("ascii"))

    # 2. Three lots, LF, 08/09 not padded, no final newline, a Latin-1 note in the 01 reserved area.
    lots = [
        ("0001", [("20001", 1000000, {}), ("20002", 2000000, {}), ("20003", 3000050, {"means": "02"})]),
        ("0002", [("30001", 99999999, {"origin": "05", "means": "12"})]),
        ("0003", [("40001", 150000, {}), ("40002", 150000, {}), ("40003", 70000000, {"means": "14"})]),
    ]
    records = [r01("20261121", "051", "000475012345", modifier="B", account_type="01",
                   reserved="RECAUDO DAVIVIENDA AÑO 2026")]
    total = count = 0
    for number, det in lots:
        block = lot(number, det, service="7709998005678")
        block[-1] = block[-1].rstrip()  # 08 of 33 characters
        records += block
        total += sum(c for _, c, _ in det)
        count += len(det)
    records.append(r09(count, total).rstrip())  # 09 of 29 characters
    (HERE / "recaudo_davivienda_3lotes_lf.txt").write_bytes("\n".join(records).encode("latin-1"))

    # 3. UTF-8 BOM; two identical real collections with no sequence number, a returned cheque.
    details = [("55501", 5000000, {"seq": 0}), ("55501", 5000000, {"seq": 0}),
               ("55502", 800000, {"means": "02", "reason": "R02"})]
    recs = [r01("20261123", "001", "062912613")] + [r05("0001")]
    recs += [r06(ref, c, **{**{"seq": 0}, **e}) for ref, c, e in details]
    recs += [r08(3, 10800000, "0001"), r09(3, 10800000)]
    (HERE / "recaudo_bogota_bom_repetidos.txt").write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(recs) + "\r\n").encode())

    # 4. Packed references (docs/matching.md, reference_layouts): a biller whose 48-digit reference is
    # the payer's NIT and check digit then the invoice padded to 8 digits, or the customer's code
    # padded to 6 then the invoice (eight zeros: no invoice); one single number; one NIT whose check
    # digit is wrong (9001234567: the right one is 8). CRLF, padded, as the Bancolombia sample.
    details = [
        ("900123456" "8" "00045678", 178500000, {"origin": "03", "means": "15", "bank": "051"}),  # NIT + invoice
        ("800191045" "1" "00045690", 238000000, {}),                                           # NIT + invoice
        ("001003" "00000000", 59500000, {"means": "02"}),                                       # customer, no invoice
        ("45712", 119000000, {}),                                                              # one number
        ("900123456" "7" "00045679", 100000000, {}),                                           # wrong check digit
    ]
    records = [r01("20261124", "007", "69812345678", ftime="0615")] + lot("0001", details) + [
        r09(len(details), sum(c for _, c, _ in details))]
    (HERE / "recaudo_referencias_compuestas.txt").write_bytes(("\r\n".join(records) + "\r\n").encode("ascii"))

    # Broken files: each one fault that finance must be told about.
    good = [r01("20261120", "007", "69812345678")] + lot("0001", [("10011", 35000000, {}), ("10012", 1250050, {})])
    bad_total = good[:-1] + [r08(2, 36250000, "0001"), r09(2, 36250000)]
    (HERE / "roto_total_lote.txt").write_text("\r\n".join(bad_total) + "\r\n", encoding="ascii")
    # A transfer cut in the middle of the second detail record's amount.
    (HERE / "roto_truncado.txt").write_text("\r\n".join(good[:-2]) + "\r\n" + good[-2][:58], encoding="ascii")
    bad_file = good + lot("0002", [("10013", 500000, {})]) + [r09(2, 36250050)]
    (HERE / "roto_control_archivo.txt").write_text("\r\n".join(bad_file) + "\r\n", encoding="ascii")


if __name__ == "__main__":
    main()
