"""``asobancaria-2001``: collection files ("recaudo") in the Asobancaria 2001 layout.

Standard: Asobancaria, "Especificaciones técnicas para reportar la información del recaudo en el
sector financiero colombiano", update of September 2001 (it replaced the 1998 layout of
128-character records). Positions below are 1-based and inclusive, as in the standard; they are
those of /work/shared/reference/bank-formats.md section 5, where three independent open-source
implementations agree (PHP dnetix/asoban ``src/Parsers/Format2001.php``, C# cangulor8/Asobancaria
``Recaudo/*.cs``, one in Java).

Fixed width, 162 characters a record, numeric fields zero-padded, amounts with two implied
decimals. The file is::

    01 file header      (once)
    05 lot header  ┐
    06 detail      │ one or more lots; each 06 is one collection (money in)
    08 lot control ┘
    09 file control     (once, last)

What a line carries: every 06 is a credit in COP (the layout has no currency field: the collecting
account is a Colombian peso account). ``account`` is the collecting account of the 01 record with
its zero padding removed (as dnetix/asoban does); ``booking_date`` is the collection date of the 01;
``statement_id`` is that date and the file modifier (``20240711-A``: the modifier tells apart the
files a bank delivers for the same day); ``bank_reference`` is ``<statement_id>/<lot>/<sequence>``
(falling back to the operation number, then to the record's place in its lot, when the bank leaves
the sequence at zero), so the same collection read again has the same identity. The 48-digit payer
reference ("referencia principal del usuario", usually the invoice or contract number, sometimes
several numbers packed together, which the matching engine splits by ``[matching]
reference_layouts``: docs/matching.md) goes to ``end_to_end_id`` without its padding zeros, and to
``remittance`` both stripped and exactly as written, followed by the payment origin and means in
words; ``transaction_code`` is ``<origin>/<means>`` as in the file.

Controls verified here (a mismatch raises :class:`StatementError` naming the record and field):
record order ``01 (05 06* 08)+ 09``, the 06 count and sum of each lot against its 08, the 05 and
08 lot numbers, and the file's 06 count and sum (equal to the sum of its 08s once each lot is
checked) against the 09. One :class:`StatementSummary` follows the lines, with the 09's count and
total as ``declared_count``/``declared_total`` (no balances: the layout has none).

Tolerated, because real files do it (reference section 5 and the public samples): CRLF or LF, no
final newline, blank lines, a UTF-8 BOM, Latin-1 bytes in the reserved area, records not padded
to 162 characters (an 08 of 33 or a 09 of 29 characters) as long as every field is present, and
records longer than 162 characters when the excess is blank. A lot with no 06 is accepted when its
08 declares zero (nothing can be lost; the standard's grammar expects at least one). Lot numbers
repeated across lots are accepted (each lot is still checked against its own 08); the 09 then
decides.
"""

from __future__ import annotations

import bisect
import codecs
import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from conciliador import BankFormat, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import parse_amount, parse_date

RECORD_LENGTH = 162
# Longest physical line read at once: a record padded with blanks beyond 162 (a 256-character 08
# is seen in a public sample) is fine; anything much longer is not this layout.
_MAX_LINE = 1024
CURRENCY = "COP"  # implied: the layout has no currency field (reference section 5)

# (start, end), 1-based inclusive, per the standard (reference section 5).
# 01 file header
H_NIT = (3, 12)
H_COLLECTION_DATE = (13, 20)
H_BANK = (21, 23)
H_ACCOUNT = (24, 40)
H_FILE_DATE = (41, 48)
H_FILE_TIME = (49, 52)
H_MODIFIER = (53, 53)
H_ACCOUNT_TYPE = (54, 55)
# 05 lot header
L_SERVICE = (3, 15)
L_LOT = (16, 19)
# 06 detail
D_REFERENCE = (3, 50)
D_AMOUNT = (51, 64)
D_ORIGIN = (65, 66)
D_MEANS = (67, 68)
D_OPERATION = (69, 74)
D_AUTHORIZATION = (75, 80)
D_DEBITED_BANK = (81, 83)
D_BRANCH = (84, 87)
D_SEQUENCE = (88, 94)
D_RETURN_REASON = (95, 97)
# 08 lot control
C_COUNT = (3, 11)
C_TOTAL = (12, 29)
C_LOT = (30, 33)
# 09 file control
F_COUNT = (3, 11)
F_TOTAL = (12, 29)

# Shortest acceptable record per type: up to the end of its last field that must be present.
# Trailing optional fields (06: authorization ... return reason; 24JULIO leaves the return reason
# blank) may be trimmed off with the padding.
_MIN_LENGTH = {"01": H_ACCOUNT_TYPE[1], "05": L_LOT[1], "06": D_MEANS[1], "08": C_LOT[1], "09": F_TOTAL[1]}
_RECORD_NAMES = {"01": "file header", "05": "lot header", "06": "detail", "08": "lot control", "09": "file control"}

# Payment origin ("procedencia de pago") and means ("medio de pago") codes of the 2001 standard
# (reference section 5), in Spanish as finance reads them.
ORIGINS = {
    "01": "entidad financiera", "02": "corporación de ahorro y vivienda", "03": "ACH", "04": "Credibanco",
    "05": "ATH", "06": "CENIT", "07": "Redeban Multicolor", "08": "Servibanca",
}
MEANS = {
    "01": "efectivo", "02": "cheque", "03": "buzón",
    "11": "débito a cuenta por audiorrespuesta", "12": "débito a cuenta en cajero automático",
    "13": "débito a cuenta en datáfono", "14": "débito automático", "15": "débito a cuenta por internet",
    "21": "tarjeta de crédito por audiorrespuesta", "22": "tarjeta de crédito en cajero automático",
    "23": "tarjeta de crédito en datáfono", "24": "tarjeta de crédito por débito automático",
    "25": "tarjeta de crédito por internet",
}
# Bank codes listed by the reference (section 5; "verify against the Superfinanciera list").
BANKS = {"001": "Banco de Bogotá", "002": "Banco Popular", "007": "Bancolombia", "013": "BBVA Colombia",
         "023": "Banco de Occidente", "051": "Davivienda"}

_HEADER = re.compile(
    r"01[0-9]{10}(?P<date>[0-9]{8})[0-9]{3}[0-9 ]{17}(?P<fdate>[0-9]{8})(?P<time>[0-9]{4})[A-Za-z0-9][0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_DIGITS_OR_BLANK = re.compile(r"[0-9]*| *")
_ALNUM_OR_BLANK = re.compile(r"[0-9A-Za-z ]*")
_REFERENCE = re.compile(r"[0-9A-Za-z ./-]*")


def _cut(record: str, span: tuple[int, int]) -> str:
    return record[span[0] - 1:span[1]]


def _where(span: tuple[int, int]) -> str:
    return f"positions {span[0]}-{span[1]}" if span[0] != span[1] else f"position {span[0]}"


class _SequenceOrdinals:
    """Ordinals for lines that share a bank reference, without remembering every line.

    Account and booking date are the same for the whole file, so two lines can only share an
    identity through the same ``<lot>/<sequence>`` reference. Sequences grow within a lot, so the
    numbers seen are kept as a few ranges (memory does not grow with the file, unlike one
    :class:`conciliador.formats.Ordinals` key per line); a repeated number gets 1, 2 ... in file
    order. Counting repeats of the reference alone (not of reference and amount, as ``Ordinals``
    does) still gives equal identities distinct ordinals, and the same file the same ones.
    """

    def __init__(self) -> None:
        self._ranges: dict[str, list[list[int]]] = {}
        self._repeats: Counter[tuple[str, int]] = Counter()

    def __call__(self, key: str, number: int) -> int:
        ranges = self._ranges.setdefault(key, [])
        if not ranges or number > ranges[-1][1]:
            if ranges and number == ranges[-1][1] + 1:
                ranges[-1][1] = number
            else:
                ranges.append([number, number])
            return 0
        i = bisect.bisect_right(ranges, number, key=lambda r: r[0]) - 1
        if i >= 0 and ranges[i][0] <= number <= ranges[i][1]:
            self._repeats[(key, number)] += 1
            return self._repeats[(key, number)]
        # A new number below the last one: insert it, joining neighbouring ranges.
        joins_left = i >= 0 and ranges[i][1] == number - 1
        joins_right = i + 1 < len(ranges) and ranges[i + 1][0] == number + 1
        if joins_left and joins_right:
            ranges[i][1] = ranges[i + 1][1]
            del ranges[i + 1]
        elif joins_left:
            ranges[i][1] = number
        elif joins_right:
            ranges[i + 1][0] = number
        else:
            ranges.insert(i + 1, [number, number])
        return 0


class Asobancaria2001(BankFormat):
    name = "asobancaria-2001"
    description = "Asobancaria 2001 collection file (recaudo): records 01/05/06/08/09, 162 characters"

    def detect(self, head: bytes, filename: str) -> float:
        try:
            if head.startswith(codecs.BOM_UTF8):
                head = head[len(codecs.BOM_UTF8):]
            first, _, rest = head.partition(b"\n")
            text = first.rstrip(b"\r").decode("latin-1")
            match = _HEADER.match(text)
            if not match:
                return 0.0
            for group in ("date", "fdate"):
                dt.datetime.strptime(match[group], "%Y%m%d")
            if not ("0000" <= match["time"] <= "2359" and match["time"][2:] < "60"):
                return 0.0
            # A valid header is already specific; its full width and a 05 after it make it certain.
            return (70 + 20 * (len(text) == RECORD_LENGTH) + 10 * rest.startswith(b"05")) / 100
        except Exception:  # detect never raises: garbage is simply not ours
            return 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        state = "start"  # start -> file -> lot -> file ... -> end
        account = statement_id = ""
        collection_date: dt.date | None = None
        lot_number = lot_service = ""
        lot_at = 0
        lot_count, lot_total, lot_index = 0, Decimal(0), 0
        file_count, file_total, controls_total, lots = 0, Decimal(0), Decimal(0), 0
        ordinals = _SequenceOrdinals()
        number = 0
        while True:
            raw = stream.readline(_MAX_LINE)
            if not raw:
                break
            number += 1
            pos = f"record {number}"
            if len(raw) == _MAX_LINE and not raw.endswith(b"\n"):
                raise StatementError(f"the line is longer than {_MAX_LINE} characters; an Asobancaria 2001 record "
                                     f"has {RECORD_LENGTH}", position=pos)
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            # Latin-1 maps every byte, so a stray accented byte in the reserved area cannot stop the
            # file; every field that matters is checked against its own pattern below.
            record = raw.decode("latin-1").rstrip("\r\n")
            if not record.strip() or record == "\x1a":  # blank line, or a DOS end-of-file mark
                continue
            kind = record[:2]
            if state == "end":
                raise StatementError(f"a record of type {kind!r} after the 09 file control record, which must be last",
                                     position=pos, field="record type")
            if kind not in _RECORD_NAMES:
                raise StatementError(f"{kind!r} is not a record type of the 2001 layout (01, 05, 06, 08, 09)",
                                     position=pos, field="record type (positions 1-2)")
            if len(record) > RECORD_LENGTH and record[RECORD_LENGTH:].strip():
                raise StatementError(f"the record is {len(record)} characters long and holds data beyond position "
                                     f"{RECORD_LENGTH}", position=pos)
            if len(record) < _MIN_LENGTH[kind]:
                raise StatementError(f"the {_RECORD_NAMES[kind]} record is cut short: {len(record)} characters where "
                                     f"its fields need {_MIN_LENGTH[kind]} (the layout pads records to {RECORD_LENGTH})",
                                     position=pos)
            record = record.ljust(RECORD_LENGTH)

            if kind == "01":
                if state != "start":
                    raise StatementError("a second 01 file header; one file holds one header", position=pos,
                                         field="record type")
                if number == 1 and len(record.rstrip()) <= 128 and len(raw.rstrip(b"\r\n")) == 128:
                    raise StatementError("this looks like the 1998 Asobancaria layout (128-character records), "
                                         "which is not read: ask the bank for the 2001 layout", position=pos)
                account, collection_date, statement_id = _file_header(record, pos)
                state = "file"
            elif state == "start":
                raise StatementError(f"the file starts with a {kind} {_RECORD_NAMES[kind]} record instead of the 01 "
                                     "file header", position=pos, field="record type")
            elif kind == "05":
                if state == "lot":
                    raise StatementError(f"a 05 lot header while lot {lot_number} (record {lot_at}) has no 08 lot "
                                         "control yet", position=pos, field="record type")
                lot_service = _cut(record, L_SERVICE)
                lot_number = _cut(record, L_LOT)
                if not _DIGITS.fullmatch(lot_service.strip() or "x"):
                    raise StatementError(f"{lot_service!r} is not a service code (NIT or EAN-13 digits)",
                                         position=pos, field=f"service code ({_where(L_SERVICE)})")
                if not _DIGITS.fullmatch(lot_number):
                    raise StatementError(f"{lot_number!r} is not a lot number of 4 digits", position=pos,
                                         field=f"lot number ({_where(L_LOT)})")
                lot_at, lot_count, lot_total, lot_index = number, 0, Decimal(0), 0
                lots += 1
                state = "lot"
            elif kind == "06":
                if state != "lot":
                    raise StatementError("a 06 detail record outside a lot (no 05 lot header before it)",
                                         position=pos, field="record type")
                assert collection_date is not None
                lot_index += 1
                line = _detail(record, pos, account=account, booking_date=collection_date,
                               statement_id=statement_id, lot=lot_number, index=lot_index, ordinals=ordinals)
                lot_count += 1
                lot_total += line.amount
                file_count += 1
                file_total += line.amount
                yield line
            elif kind == "08":
                if state != "lot":
                    raise StatementError("an 08 lot control record without an open lot (no 05 lot header before it)",
                                         position=pos, field="record type")
                declared_count, declared_total, declared_lot = _lot_control(record, pos)
                if declared_lot != lot_number:
                    raise StatementError(f"the lot control names lot {declared_lot} but the lot opened at record "
                                         f"{lot_at} is lot {lot_number}", position=pos,
                                         field=f"lot number ({_where(C_LOT)})")
                if declared_count != lot_count:
                    raise StatementError(f"lot {lot_number} declares {declared_count} detail records but holds "
                                         f"{lot_count}", position=pos, field=f"record count ({_where(C_COUNT)})")
                if declared_total != lot_total:
                    raise StatementError(f"lot {lot_number} declares a total of {declared_total} but its detail "
                                         f"records add up to {lot_total}", position=pos,
                                         field=f"total ({_where(C_TOTAL)})")
                controls_total += declared_total
                state = "file"
            else:  # "09"
                if state == "lot":
                    raise StatementError(f"the 09 file control comes while lot {lot_number} (record {lot_at}) has "
                                         "no 08 lot control", position=pos, field="record type")
                if lots == 0:
                    raise StatementError("the file holds no lot (no 05 lot header between the 01 and the 09)",
                                         position=pos, field="record type")
                declared_count, declared_total = _file_control(record, pos)
                if declared_count != file_count:
                    raise StatementError(f"the file control declares {declared_count} detail records but the file "
                                         f"holds {file_count} (in {lots} lots)", position=pos,
                                         field=f"record count ({_where(F_COUNT)})")
                if declared_total != controls_total:  # == file_total, since every lot matched its 08
                    raise StatementError(f"the file control declares a total of {declared_total} but the lot "
                                         f"controls add up to {controls_total}", position=pos,
                                         field=f"total ({_where(F_TOTAL)})")
                assert collection_date is not None
                yield StatementSummary(account=account, currency=CURRENCY, statement_id=statement_id,
                                       period_from=collection_date, period_to=collection_date,
                                       declared_count=declared_count, declared_total=declared_total, position=pos)
                state = "end"
        if state == "start":
            raise StatementError("the file is empty: no 01 file header", position="record 1")
        if state != "end":
            missing = f"the 08 lot control of lot {lot_number} and the 09 file control" if state == "lot" else \
                "the 09 file control"
            raise StatementError(f"the file ends without {missing}: it is truncated or incomplete",
                                 position=f"end of file (after record {number})")


def _file_header(record: str, pos: str) -> tuple[str, dt.date, str]:
    nit = _cut(record, H_NIT)
    if not _DIGITS.fullmatch(nit):
        raise StatementError(f"{nit!r} is not a NIT of 10 digits", position=pos, field=f"biller NIT ({_where(H_NIT)})")
    collection_date = parse_date(_cut(record, H_COLLECTION_DATE), "%Y%m%d", position=pos,
                                 field=f"collection date ({_where(H_COLLECTION_DATE)})")
    bank = _cut(record, H_BANK)
    if not _DIGITS.fullmatch(bank):
        raise StatementError(f"{bank!r} is not a bank code of 3 digits", position=pos, field=f"bank code ({_where(H_BANK)})")
    raw_account = _cut(record, H_ACCOUNT)
    # The field is numeric and zero-padded on the left; the padding is not part of the number.
    account = raw_account.strip().lstrip("0")
    if not _DIGITS.fullmatch(raw_account.strip() or "x") or not account:
        raise StatementError(f"{raw_account!r} is not an account number", position=pos,
                             field=f"account number ({_where(H_ACCOUNT)})")
    parse_date(_cut(record, H_FILE_DATE), "%Y%m%d", position=pos, field=f"file date ({_where(H_FILE_DATE)})")
    time = _cut(record, H_FILE_TIME)
    if not (_DIGITS.fullmatch(time) and time[:2] < "24" and time[2:] < "60"):
        raise StatementError(f"{time!r} is not a time as HHMM", position=pos, field=f"file time ({_where(H_FILE_TIME)})")
    modifier = _cut(record, H_MODIFIER)
    if not re.fullmatch(r"[A-Za-z0-9]", modifier):
        raise StatementError(f"{modifier!r} is not a file modifier (a letter or a digit)", position=pos,
                             field=f"file modifier ({_where(H_MODIFIER)})")
    account_type = _cut(record, H_ACCOUNT_TYPE)
    if not _DIGITS.fullmatch(account_type):
        raise StatementError(f"{account_type!r} is not an account type (01 savings, 02 checking ...)", position=pos,
                             field=f"account type ({_where(H_ACCOUNT_TYPE)})")
    return account, collection_date, f"{collection_date:%Y%m%d}-{modifier.upper()}"


def _detail(record: str, pos: str, *, account: str, booking_date: dt.date, statement_id: str, lot: str,
            index: int, ordinals: _SequenceOrdinals) -> StatementLine:
    reference = _cut(record, D_REFERENCE)
    if not _REFERENCE.fullmatch(reference):
        raise StatementError(f"{reference.strip()!r} is not a payer reference (digits, zero-padded)", position=pos,
                             field=f"payer reference ({_where(D_REFERENCE)})")
    amount = parse_amount(_cut(record, D_AMOUNT), implied_decimals=2, position=pos,
                          field=f"amount ({_where(D_AMOUNT)})")
    if amount == 0:
        raise StatementError("a collection of zero", position=pos, field=f"amount ({_where(D_AMOUNT)})")
    values: dict[str, str] = {}
    for name, span, pattern in (("payment origin", D_ORIGIN, _DIGITS_OR_BLANK), ("payment means", D_MEANS, _DIGITS_OR_BLANK),
                                ("operation number", D_OPERATION, _ALNUM_OR_BLANK),
                                ("authorization number", D_AUTHORIZATION, _ALNUM_OR_BLANK),
                                ("debited bank", D_DEBITED_BANK, _DIGITS_OR_BLANK), ("branch", D_BRANCH, _DIGITS_OR_BLANK),
                                ("sequence", D_SEQUENCE, _DIGITS_OR_BLANK),
                                ("return reason", D_RETURN_REASON, _ALNUM_OR_BLANK)):
        value = _cut(record, span)
        if not pattern.fullmatch(value):
            raise StatementError(f"{value!r} is not a valid {name}", position=pos, field=f"{name} ({_where(span)})")
        values[name] = value.strip()

    # Identity: the bank numbers each collection within its lot; an unnumbered one falls back to the
    # operation number, then to its place in the lot (the same file always gives the same place).
    sequence, operation = values["sequence"], values["operation number"]
    if sequence.strip("0"):
        tag, key, n = sequence, lot, int(sequence)
    elif operation.strip("0") and operation.isdigit():
        tag, key, n = f"op{operation}", f"{lot}/op", int(operation)
    else:
        tag, key, n = f"r{index}", f"{lot}/r", index
    bank_reference = f"{statement_id}/{lot}/{tag}"

    stripped = reference.strip().lstrip("0")
    origin, means = values["payment origin"], values["payment means"]
    text = [stripped, reference.strip()] if stripped else [reference.strip()]
    if origin:
        text.append(f"origen: {ORIGINS.get(origin, 'código ' + origin)};")
    if means:
        text.append(f"medio: {MEANS.get(means, 'código ' + means)};")
    debited = values["debited bank"]
    if debited.strip("0") and debited in BANKS:
        text.append(f"banco: {BANKS[debited]};")
    reason = values["return reason"]
    if reason.strip("0"):
        text.append(f"causal de devolución {reason};")
    remittance = " ".join(text).rstrip(";")
    return StatementLine(
        account=account, currency=CURRENCY, booking_date=booking_date, amount=amount,
        bank_reference=bank_reference, end_to_end_id=stripped, remittance=remittance,
        transaction_code=f"{origin}/{means}" if origin or means else "", statement_id=statement_id,
        ordinal=ordinals(key, n), position=pos)


def _control_numbers(record: str, pos: str, count_span: tuple[int, int],
                     total_span: tuple[int, int]) -> tuple[int, Decimal]:
    count = _cut(record, count_span)
    if not _DIGITS.fullmatch(count):
        raise StatementError(f"{count!r} is not a record count of 9 digits", position=pos,
                             field=f"record count ({_where(count_span)})")
    total = parse_amount(_cut(record, total_span), implied_decimals=2, position=pos, field=f"total ({_where(total_span)})")
    return int(count), total


def _lot_control(record: str, pos: str) -> tuple[int, Decimal, str]:
    count, total = _control_numbers(record, pos, C_COUNT, C_TOTAL)
    lot = _cut(record, C_LOT)
    if not _DIGITS.fullmatch(lot):
        raise StatementError(f"{lot!r} is not a lot number of 4 digits", position=pos, field=f"lot number ({_where(C_LOT)})")
    return count, total, lot


def _file_control(record: str, pos: str) -> tuple[int, Decimal]:
    return _control_numbers(record, pos, F_COUNT, F_TOTAL)


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [Asobancaria2001()]
