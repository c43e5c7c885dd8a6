"""File downloads shared by every package's pages, and the one CSV writer they all use."""

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from flask import Response, stream_with_context

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


# Rows go out in batches of this many: big enough that each write to the client carries
# a useful amount, small enough that memory stays flat whatever the export's size.
CSV_BATCH = 500


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The CSV text of the header and rows, in chunks of ``CSV_BATCH`` rows, formula
    cells neutralised; only one chunk is ever held in memory."""
    buffer = io.StringIO()
    writer = SafeCSVWriter(buffer)
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        writer.writerow(row)
        if number % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(header: Sequence[str], rows: Iterable[Sequence], filename: str) -> Response:
    """A CSV attachment streamed as it is written: the header, then one line per row.

    ``rows`` is consumed while the response is sent, inside the request's context, so a
    lazy iterable (a generator running its query when first read) keeps an export of
    any size in constant memory. The query must start inside that iterable: the request's
    unit of work has ended by the time the first row is read.
    """
    return Response(
        stream_with_context(csv_lines(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
