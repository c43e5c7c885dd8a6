"""File downloads shared by every package's pages, and the one CSV writer they all use."""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from flask import Response

# A spreadsheet runs a cell starting with one of these as a formula (``=HYPERLINK(…)``,
# ``@SUM(…)``, DDE through ``+``/``-``), and tab or carriage return can hide such a start.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: Any) -> Any:
    """A cell as a spreadsheet may open it safely: text that would start a formula gets a
    leading apostrophe (shown as text, not run). Numbers, and text that is just a number
    such as ``-0.278``, stay as they are."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class SafeCSVWriter:
    """``csv.writer`` whose every cell is passed through ``neutralise`` first."""

    def __init__(self, stream: TextIO):
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write every row."""
        for row in rows:
            self.writerow(row)


def csv_response(header: Sequence[str], rows: Iterable[Sequence], filename: str) -> Response:
    """A CSV attachment: the header, then one line per row, formula cells neutralised."""
    buffer = io.StringIO()
    writer = SafeCSVWriter(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
