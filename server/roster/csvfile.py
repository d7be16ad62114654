"""Reading the school's roster CSV: the encoding Excel wrote, the delimiter, the header's columns
(Chinese or English names), and the rows with their line numbers."""

from __future__ import annotations

import csv
import io

from ..errors import UserError

HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "证件号", "证件号码", "id_number"),
    "phone": ("手机号", "手机号码", "手机", "电话", "phone"),
    "subject": ("科目", "报考科目", "专业", "subject"),
    "photo": ("照片", "照片文件", "证件照", "photo"),
    "id_type": ("证件类型", "id_type"),
    "exam": ("考试", "考试名称", "exam"),
}
REQUIRED = ("name", "id_number", "subject")
_ALIAS = {alias.lower(): key for key, aliases in HEADERS.items() for alias in aliases}


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM (Excel "Unicode text"), else GB18030 (Excel in China)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    raise UserError("csv_encoding")


def _header_key(cell: str, alias: dict[str, str]) -> str | None:
    return alias.get(cell.strip().strip("\ufeff*").strip().lower())


def _columns(header: list[str], alias: dict[str, str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell, alias)
        if key and key not in columns:
            columns[key] = index
    return columns


def _delimiter(text: str, alias: dict[str, str]) -> str:
    """Comma, unless the first line only makes sense split on a tab or a semicolon."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    best, found = ",", 0
    for candidate in (",", "\t", ";"):
        try:
            header = next(csv.reader([first], delimiter=candidate), [])
        except csv.Error:
            continue
        if len(_columns(header, alias)) > found:
            best, found = candidate, len(_columns(header, alias))
    return best


def read_rows(
    text: str,
    max_rows: int,
    headers: dict[str, tuple[str, ...]] = HEADERS,
    required: tuple[str, ...] = REQUIRED,
) -> tuple[dict[str, int], list[tuple[int, dict[str, str]]]]:
    """The header's column map, and (line number, {column: value}) for each non-blank data row.
    ``headers``: column -> the names it may have (the roster's by default; a question bank's index has its own)."""
    alias = _ALIAS if headers is HEADERS else {a.lower(): key for key, names in headers.items() for a in names}
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, alias))
    columns: dict[str, int] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    last_line = 0
    try:
        for record in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                columns = _columns(record, alias)
                missing = [headers[key][0] for key in required if key not in columns]
                if missing:
                    raise UserError("csv_columns", columns=", ".join(missing))
                continue
            if len(rows) >= max_rows:
                raise UserError("csv_too_many_rows", limit=max_rows)
            rows.append((line, {key: (record[i].strip() if i < len(record) else "") for key, i in columns.items()}))
    except csv.Error as exc:
        raise UserError("csv_malformed", detail=f"line {reader.line_num}: {exc}") from None
    if columns is None or not rows:
        raise UserError("csv_empty")
    return columns, rows
