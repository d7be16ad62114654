"""CSV for spreadsheets, shared by every CSV export: UTF-8 with a BOM (Excel then reads Chinese) and
formula-safe cells (a cell starting with = + - @ gets a quote first, so a spreadsheet never runs it:
CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@")


def safe(value: str) -> str:
    """A cell that a spreadsheet would run as a formula starts with a quote instead (CSV injection)."""
    return "'" + value if value[:1] in FORMULA_START else value


def text(cell: object) -> str:
    """A cell as text: a whole float without its ``.0`` (a mark of 35.0 reads 35)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def encode_rows(rows: Iterable[Iterable[object]], bom: bool = False) -> bytes:
    """CSV lines (CRLF) of ``rows``, every cell made text and formula-safe; ``bom`` puts the BOM first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe(text(cell)) for cell in row])
    return ((BOM if bom else "") + buffer.getvalue()).encode("utf-8")
