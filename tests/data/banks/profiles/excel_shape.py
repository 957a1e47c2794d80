"""Excel's shape for the generated sample workbooks: openpyxl writes cell texts inline in the
sheets, Excel keeps them in xl/sharedStrings.xml after the sheets, which is what the profiles'
detection has to cope with. Shared by the make_*.py generators in this folder."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from html import escape, unescape


def excel_shaped(data: bytes, *, saved: dt.datetime, strings_rel: str) -> bytes:
    """openpyxl's workbook as Excel writes it: every sheet's inline strings moved to
    xl/sharedStrings.xml (one entry per distinct text, in order of first use), after the sheets.
    ``saved`` stands for the time of saving (openpyxl stamps the real one, in docProps/core.xml and
    in each zip entry): a fixed one keeps the committed bytes reproducible. ``strings_rel`` is the
    relationship id given to the shared-string part."""
    src = zipfile.ZipFile(io.BytesIO(data))
    parts = {name: src.read(name) for name in src.namelist()}
    strings: dict[str, int] = {}

    def shared(match: re.Match) -> str:
        index = strings.setdefault(unescape(match.group(3)), len(strings))
        return f'<c r="{match.group(1)}"{match.group(2)} t="s"><v>{index}</v></c>'

    stamp = saved.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    parts["docProps/core.xml"] = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, parts["docProps/core.xml"])
    sheets = sorted((n for n in parts if re.fullmatch(r"xl/worksheets/sheet[0-9]+\.xml", n)),
                    key=lambda n: int(re.search(r"[0-9]+", n.rsplit("/", 1)[1]).group()))
    for name in sheets:
        sheet = parts[name].decode("utf-8")
        sheet = re.sub(r'<c r="([A-Z]+[0-9]+)"((?: s="[0-9]+")?) t="inlineStr"><is><t(?: [^>]*)?>([^<]*)</t></is></c>',
                       shared, sheet)
        assert "inlineStr" not in sheet, name
        parts[name] = sheet.encode("utf-8")
    items = "".join(f'<si><t xml:space="preserve">{escape(text, quote=False)}</t></si>' for text in strings)
    parts["xl/sharedStrings.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>').encode("utf-8")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                     b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                             b'relationships/sharedStrings" Target="sharedStrings.xml" Id="'
                             + strings_rel.encode() + b'"/></Relationships>')
    order = ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", *sheets,
             "xl/theme/theme1.xml", "xl/styles.xml", "xl/sharedStrings.xml", "docProps/core.xml", "docProps/app.xml"]
    assert sorted(order) == sorted(parts), sorted(set(parts) ^ set(order))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=saved.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, parts[name])
    return out.getvalue()

