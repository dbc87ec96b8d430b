"""Reading an export file safely: encodings, delimiters, header aliases and rejected rows.

Every importer (CRM accounts, help-desk tickets, bank deposits, entitlements, ...) describes its
file as a `CsvSchema` — fields with the header aliases of common exports and a parser each — and
`iter_records` reads the file a row at a time, without loading it whole:

    source bytes ──detect_encoding──► text ──sniff_delimiter──► csv rows
        ──map_headers──► {field: raw} ──Field.parse──► record ──schema.finish──► row

A bad row becomes a `RowError` with its line number while the good rows carry on; a file-level
problem (unreadable, too big, required columns missing, a used column named twice) raises
`InputError` before any row is handed on. Structural damage is a bad row, never silent:

- an unbalanced quote rejects its own line only; the lines it swallowed are read again on
  their own (core/imports/csv_frames.py), never loaded as one 97-character name;
- a cell longer than its field's `max_chars` (10,000 unless the field says otherwise) is refused;
- a line the csv module cannot read is listed and reading goes on with the next one.

Storing the rows is core/imports/csv_import.py's job.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.errors import InputError
from core.imports.csv_frames import Lines, framed_rows
from core.imports.csv_values import parse_text

ENCODINGS = ("utf-8", "cp1252", "latin-1")
DELIMITERS = ",;\t|"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_REPORTED_ERRORS = 1_000
MAX_FIELD_CHARS = 10_000
MAX_MESSAGE_CHARS = 300
_SNIFF_BYTES = 64 * 1024
_CHUNK = 1024 * 1024


csv.field_size_limit(16 * 1024 * 1024)  # long ticket bodies; still bounded

Source = Path | str | bytes | IO[bytes]


# --- schema ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One target field: its header aliases (in common exports) and how to parse a cell."""

    name: str
    aliases: tuple[str, ...] = ()
    parse: Callable[[str], Any] = parse_text
    required: bool = False  # the column must exist and the cell must not be empty
    max_chars: int = MAX_FIELD_CHARS  # longer cells are refused (a broken export, not data)


@dataclass(frozen=True)
class CsvSchema:
    """What an importer expects from a file and how it stores a batch of records."""

    name: str
    fields: tuple[Field, ...]
    # A row is kept only when at least one field of each group has a value (e.g. id or e-mail).
    require_one_of: tuple[tuple[str, ...], ...] = ()
    # Turns a parsed record into its stored row (may raise ValueError for row-level problems).
    finish: Callable[[dict[str, Any]], dict[str, Any]] = dict
    # The natural key of a finished row: rows with the same key update each other.
    key: Callable[[dict[str, Any]], Any] = lambda row: tuple(sorted(row.items()))


@dataclass(frozen=True)
class RowError:
    """A row that was not loaded, and why."""

    line: int
    message: str


@dataclass
class ImportResult:
    """The outcome of one import: counts, errors and how the file was read."""

    importer: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    encoding: str = ""
    delimiter: str = ""
    mapping: dict[str, str] = field(default_factory=dict)  # field → header it came from
    ignored_headers: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated

    def summary(self) -> str:
        """One line for the CLI and the upload page."""
        text = (
            f"{self.importer}: {self.rows_read} rows read, {self.inserted} new, "
            f"{self.updated} updated, {self.error_count} rejected"
        )
        return text + (f" (first at line {self.errors[0].line})" if self.errors else "")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able view (for --json)."""
        return {
            "importer": self.importer,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "rejected": self.error_count,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": self.mapping,
            "ignored_headers": self.ignored_headers,
        }


# --- reading ---------------------------------------------------------------------------------


def _open_binary(source: Source) -> tuple[IO[bytes], bool]:
    if isinstance(source, bytes):
        return io.BytesIO(source), True
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path} does not exist or is not a file.")
        return path.open("rb"), True
    return source, False


def _size_of(stream: IO[bytes]) -> int | None:
    try:
        pos = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(pos)
        return end - pos
    except (OSError, ValueError):
        return None


def detect_encoding(stream: IO[bytes]) -> str:
    """utf-8-sig, utf-8, cp1252 or latin-1: the first that decodes the whole stream."""
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    if head.startswith(codecs.BOM_UTF8):
        candidates: tuple[str, ...] = ("utf-8-sig",) + ENCODINGS[1:]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError("The file is UTF-16 encoded: save it as CSV UTF-8 and import it again.")
    else:
        candidates = ENCODINGS
    for encoding in candidates[:-1]:
        # Validate the whole file chunk by chunk: memory stays flat for huge files, and an
        # accented name on line 900,000 cannot break an encoding guessed from the first lines.
        decoder = codecs.getincrementaldecoder(encoding)()
        stream.seek(start)
        try:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        else:
            stream.seek(start)
            return encoding
    stream.seek(start)
    return candidates[-1]  # latin-1 decodes any byte sequence


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: comma, semicolon, tab or pipe (comma when unsure)."""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:20]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def normalise_header(text: str) -> str:
    """ "Stripe Customer ID " → "stripe customer id" (case, punctuation and BOM ignored)."""
    # Salesforce custom fields end in "__c" (Stripe_Customer_ID__c).
    text = re.sub(r"__c$", "", text.replace("\ufeff", "").strip(), flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def map_headers(headers: Sequence[str], schema: CsvSchema) -> tuple[dict[str, int], list[str]]:
    """Match file headers to schema fields by name or alias; raise when a required one is missing."""
    positions: dict[str, int] = {}
    for i, h in enumerate(headers):
        positions.setdefault(normalise_header(h), i)
    _refuse_duplicates(headers, schema)
    mapping: dict[str, int] = {}
    for f in schema.fields:
        for alias in (f.name, *f.aliases):
            idx = positions.get(normalise_header(alias))
            if idx is not None and idx not in mapping.values():
                mapping[f.name] = idx
                break
    missing = [f.name for f in schema.fields if f.required and f.name not in mapping]
    for group in schema.require_one_of:
        if not any(name in mapping for name in group):
            missing.append(" or ".join(group))
    if missing:
        seen = ", ".join(repr(h) for h in headers[:20]) or "none"
        raise InputError(
            f"The {schema.name} file has no column for {', '.join(missing)} (headers found: {seen}). "
            "Rename the column or export it with a header such as "
            + "; ".join(_example_headers(schema, missing))
            + "."
        )
    ignored = [h for i, h in enumerate(headers) if i not in mapping.values() and h.strip()]
    return mapping, ignored


def _refuse_duplicates(headers: Sequence[str], schema: CsvSchema) -> None:
    """A column the schema uses, named twice: which one holds the value is anyone's guess."""
    used = {normalise_header(a) for f in schema.fields for a in (f.name, *f.aliases)}
    columns: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        if normalise_header(h) in used:
            columns.setdefault(normalise_header(h), []).append(i + 1)
    twice = [
        f"{headers[cols[0] - 1].strip()!r} is in columns {', '.join(map(str, cols))}"
        for cols in columns.values()
        if len(cols) > 1
    ]
    if twice:
        raise InputError(
            f"Line 1 of the {schema.name} file names a column more than once ({'; '.join(twice)}): "
            "rename or remove the extra column and import again."
        )


def _example_headers(schema: CsvSchema, missing: list[str]) -> list[str]:
    names = {n for m in missing for n in m.split(" or ")}
    return [
        f"{f.name!r}" + (f" / {f.aliases[0]!r}" if f.aliases else "")
        for f in schema.fields
        if f.name in names
    ]


def _parse_row(
    cells: list[str], mapping: Mapping[str, int], schema: CsvSchema
) -> tuple[dict[str, Any] | None, str | None]:
    record: dict[str, Any] = {}
    problems: list[str] = []
    for f in schema.fields:
        idx = mapping.get(f.name)
        raw = cells[idx].strip() if idx is not None and idx < len(cells) else ""
        if len(raw) > f.max_chars:
            problems.append(
                f"{f.name} is {len(raw):,} characters long; the limit is {f.max_chars:,} "
                "(check the export: a field this long is usually a broken file)"
            )
            continue
        if not raw:
            if f.required:
                problems.append(f"{f.name} is empty")
            record[f.name] = None
            continue
        try:
            record[f.name] = f.parse(raw)
        except (ValueError, TypeError) as exc:
            problems.append(f"{f.name}: {exc}")
    for group in schema.require_one_of:
        if not any(record.get(name) not in (None, "") for name in group):
            problems.append(f"needs {' or '.join(group)}")
    if problems:
        return None, "; ".join(problems)
    try:
        return schema.finish(record), None
    except ValueError as exc:
        return None, str(exc)


def iter_records(
    source: Source,
    schema: CsvSchema,
    result: ImportResult,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream (line number, finished row) pairs; bad rows go to `result.errors`."""
    stream, owned = _open_binary(source)
    try:
        size = _size_of(stream)
        if size is not None and size > max_bytes:
            raise InputError(
                f"The file is {size / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
                "Split it into smaller files and import them one after another."
            )
        result.encoding = detect_encoding(stream)
        text = io.TextIOWrapper(stream, encoding=result.encoding, newline="")
        try:
            sample = text.read(_SNIFF_BYTES)
            if sample and not sample.endswith("\n"):
                sample += text.readline()  # csv must see whole lines, never half of one
            result.delimiter = sniff_delimiter(sample)
            lines = Lines(itertools.chain(io.StringIO(sample, newline=""), text))
            # strict: a closing quote followed by text, or a quote left open at the end of the
            # file, is an error to list rather than a cell silently holding the next rows.
            reader = csv.reader(lines, delimiter=result.delimiter, strict=True)
            headers = next(reader, None)
            if headers is None or not any(h.strip() for h in headers):
                raise InputError(f"The {schema.name} file is empty: export it again with headers.")
            mapping, result.ignored_headers = map_headers(headers, schema)
            result.mapping = {name: headers[i].strip() for name, i in mapping.items()}
            for line, cells in framed_rows(reader, lines, headers, result.delimiter):
                if isinstance(cells, str):  # a line the reader could not frame into a row
                    result.rows_read += 1
                    add_error(result, line, cells)
                    continue
                if not any(c.strip() for c in cells):
                    continue
                result.rows_read += 1
                row, problem = _parse_row(cells, mapping, schema)
                if problem is not None:
                    add_error(result, line, problem)
                else:
                    yield line, row  # type: ignore[misc]
        finally:
            text.detach()
    finally:
        if owned:
            stream.close()


def add_error(result: ImportResult, line: int, message: str) -> None:
    """Count a rejected row; keep the first MAX_REPORTED_ERRORS for display."""
    result.error_count += 1
    if len(message) > MAX_MESSAGE_CHARS:  # a parser quoting a huge cell back
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    if len(result.errors) < MAX_REPORTED_ERRORS:
        result.errors.append(RowError(line, message))
