"""Reading calibration CSV files: cases with golden answers, and a model rater's labels.

Pure parsing and checking: the caller passes what the database knows (label keys,
market codes, existing references, model rater names) and gets rows back, or one
``ValidationError`` listing every problem by line and column. Nothing is written here,
and the services write nothing of a file with any problem: imports are all-or-nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from rollcal.errors import ValidationError

CASE_COLUMNS = ("reference", "text", "url", "market", "policy_area", "golden", "rationale")
LABEL_COLUMNS = ("reference", "rater", "label", "comment")

# Enough to fix a file in one go without burying the first problem under hundreds.
MAX_REPORTED = 20
MAX_ROWS = 20_000

_URL = re.compile(r"https?://\S+$")


@dataclass(frozen=True)
class CaseRow:
    """One case read from a file, with the line it came from."""

    line: int
    reference: str
    text: str | None
    url: str | None
    market: str | None
    policy_area: str | None
    golden: str | None
    rationale: str | None


@dataclass(frozen=True)
class LabelRow:
    """One model label read from a file, with the line it came from."""

    line: int
    reference: str
    rater: str
    label: str
    comment: str | None


class _Problems:
    """Problems found so far; raised together as one ValidationError."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, line: int, field: str, message: str) -> None:
        """Note one problem on one line and column."""
        self.items.append({"line": line, "field": field, "message": message})

    def raise_if_any(self) -> None:
        """Raise every problem noted so far (the first few) as one ValidationError."""
        if not self.items:
            return
        shown = self.items[:MAX_REPORTED]
        first = shown[0]
        summary = f"Line {first['line']}, {first['field']}: {first['message']}"
        if len(self.items) > 1:
            summary += f" (and {len(self.items) - 1} more problems)"
        raise ValidationError(summary, shown)


def describe(error: dict) -> str:
    """One import problem as a sentence naming the line and column."""
    return f"Line {error['line']}, {error['field']}: {error['message']}"


DELIMITERS = (",", ";", "\t")


def delimiter_of(text: str) -> str:
    """The delimiter a file uses, read off its header line: a comma, or the semicolon that
    Excel writes in locales whose decimal mark is a comma, or a tab (a sheet pasted as
    text). Column names never contain these, so the most frequent one is the delimiter."""
    header = text.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _rows(content: bytes, known: tuple[str, ...], required: tuple[str, ...]):
    """Decode the file and yield (line, {column: value}) for each non-empty row."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise ValidationError(
            f"Line {line}: the file is not UTF-8 text. Save it as CSV UTF-8 and try again.",
            [{"line": line, "field": "file", "message": "is not UTF-8 text"}],
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ValidationError(
            f"Line {line}: the file holds a NUL character (\\0); it is not a CSV text file.",
            [{"line": line, "field": "file", "message": "holds a NUL character"}],
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
    header = next(_lines(reader), (1, None))[1]
    if header is None or not any(cell.strip() for cell in header):
        raise ValidationError(
            "The file is empty; the first line names the columns.",
            [{"line": 1, "field": "file", "message": "is empty"}],
        )
    columns = [cell.strip().lower() for cell in header]
    problems = _Problems()
    for name in columns:
        if name not in known:
            problems.add(1, name or "(blank)", f"is not a column we read; use {', '.join(known)}.")
    for name in required:
        if name not in columns:
            problems.add(1, name, "this column is missing.")
    if len(set(columns)) != len(columns):
        problems.add(1, "header", "a column is named twice.")
    problems.raise_if_any()
    count = 0
    for line, cells in _lines(reader):
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise ValidationError(
                f"Line {line}: a file may hold at most {MAX_ROWS:,} rows; split it.",
                [{"line": line, "field": "file", "message": "too many rows"}],
            )
        if len(cells) > len(columns):
            problems.add(line, "row", f"has {len(cells)} values but the header has {len(columns)}.")
            continue
        values = {
            name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(columns)
        }
        yield line, values, problems
    problems.raise_if_any()
    if count == 0:
        raise ValidationError(
            "The file has a header but no rows.",
            [{"line": 2, "field": "file", "message": "has no rows"}],
        )


def _lines(reader) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for each row; a cell past the csv module's size limit (or another
    fault of the file's quoting) is refused naming the line it starts on."""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = str(error)
            if "field larger than field limit" in reason:
                reason = f"a value is longer than {csv.field_size_limit():,} characters"
            raise ValidationError(
                f"Line {line}: {reason}.", [{"line": line, "field": "file", "message": reason}]
            ) from None
        yield reader.line_num, cells


def read_cases_csv(
    content: bytes,
    *,
    option_keys: Collection[str],
    market_codes: Collection[str],
    existing_references: Collection[str] = (),
) -> list[CaseRow]:
    """Cases from a CSV with the columns of ``CASE_COLUMNS`` (``reference`` and one of
    ``text``/``url`` required; the rest optional), or a ``ValidationError`` naming every
    bad line and column."""
    options = ", ".join(option_keys)
    markets = {code.upper() for code in market_codes}
    seen: dict[str, int] = {}
    rows: list[CaseRow] = []
    for line, values, problems in _rows(content, CASE_COLUMNS, ("reference",)):
        reference = values.get("reference", "")
        text = values.get("text") or None
        url = values.get("url") or None
        market = (values.get("market") or "").upper() or None
        area = values.get("policy_area") or None
        golden = (values.get("golden") or "").lower() or None
        rationale = values.get("rationale") or None
        if not reference:
            problems.add(line, "reference", "is required.")
        elif len(reference) > 120:
            problems.add(line, "reference", "is longer than 120 characters.")
        elif reference in seen:
            problems.add(line, "reference", f"“{reference}” is already on line {seen[reference]}.")
        elif reference in existing_references:
            problems.add(line, "reference", f"“{reference}” is already a case of this session.")
        else:
            seen[reference] = line
        if not text and not url:
            problems.add(line, "text", "give the content as text, a url, or both.")
        if url and (len(url) > 500 or not _URL.match(url)):
            problems.add(line, "url", "must be a web address starting with http:// or https://.")
        if market and market not in markets:
            problems.add(line, "market", f"“{market}” is not a market code we know.")
        if area and len(area) > 120:
            problems.add(line, "policy_area", "is longer than 120 characters.")
        if golden and golden not in option_keys:
            problems.add(line, "golden", f"“{golden}” is not a label option ({options}).")
        if rationale and not golden:
            problems.add(line, "rationale", "explains a golden label, so give one in golden.")
        rows.append(CaseRow(line, reference, text, url, market, area, golden, rationale))
    return rows


def read_labels_csv(
    content: bytes,
    *,
    option_keys: Collection[str],
    references: Collection[str],
    rater_names: Collection[str],
) -> list[LabelRow]:
    """Model labels from a CSV with the columns ``reference,rater,label[,comment]``.

    ``rater`` names a model rater of the session as shown on its page (name and version).
    """
    options = ", ".join(option_keys)
    seen: dict[tuple[str, str], int] = {}
    rows: list[LabelRow] = []
    for line, values, problems in _rows(content, LABEL_COLUMNS, ("reference", "rater", "label")):
        reference, rater = values["reference"], values["rater"]
        label = values["label"].lower()
        if not reference:
            problems.add(line, "reference", "is required.")
        elif reference not in references:
            problems.add(line, "reference", f"“{reference}” is not a case of this session.")
        if not rater:
            problems.add(line, "rater", "is required.")
        elif rater not in rater_names:
            problems.add(line, "rater", f"“{rater}” is not a model rater of this session.")
        if not label:
            problems.add(line, "label", "is required.")
        elif label not in option_keys:
            problems.add(line, "label", f"“{label}” is not a label option ({options}).")
        pair = (reference, rater)
        if reference and rater and pair in seen:
            problems.add(
                line, "reference", f"{rater} already labels “{reference}” on line {seen[pair]}."
            )
        else:
            seen[pair] = line
        rows.append(LabelRow(line, reference, rater, label, values.get("comment") or None))
    return rows


def sample_cases(options: list[dict]) -> list[list[str]]:
    """Rows of a sample cases file for a session with these label options: one case with
    text, one with a link, and one without a golden answer. Markets are left blank: a
    market code must be one the organisation knows."""
    keys = [option["key"] for option in options] or ["label"]
    return [
        [
            "CASE-001",
            "Listing: 'AAA replica bag, 1:1 quality'",
            "",
            "",
            "Counterfeit",
            keys[0],
            "Says replica outright",
        ],
        [
            "CASE-002",
            "",
            "https://example.com/listing/2",
            "",
            "Counterfeit",
            keys[-1],
            "Genuine goods with receipt",
        ],
        ["CASE-003", "A listing with no golden answer yet", "", "", "", "", ""],
    ]


def sample_labels(options: list[dict], models: list[str]) -> list[list[str]]:
    """Rows of a sample model-labels file: each case labelled by each model of the session."""
    keys = [option["key"] for option in options] or ["label"]
    models = models or ["ModelName 1.0"]
    return [
        [f"CASE-{case:03d}", model, keys[(case - 1) % len(keys)], ""]
        for model in models
        for case in (1, 2)
    ]
