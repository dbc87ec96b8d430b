"""Framing CSV records: which physical lines make a row, and what an unbalanced quote did.

A quote opened and never closed makes the csv module read the following lines into one cell: a
row silently swallowed into a 97-character name. The strict reader raises on most such quotes
(a closing quote followed by text, or a quote still open at the end of the file); a quote closed
much later, right before a delimiter or a line end, shows as a cell holding whole rows. Either
way only the line with the opening quote is rejected, with its line number, and the lines after
it are read again on their own, so the good rows among them still load.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any


class Lines:
    """The physical lines fed to csv.reader, numbered, with the current record's lines kept so
    they can be handed back and read again."""

    def __init__(self, source: Iterator[str]) -> None:
        self._source = source
        self._again: deque[str] = deque()
        self.number = 0  # the last line handed to the reader
        self.taken: list[str] = []  # the lines of the record being read

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        line = self._again.popleft() if self._again else next(self._source)
        self.number += 1
        self.taken.append(line)
        return line

    def reread_after_first(self) -> None:
        """Hand back every line of the current record but its first."""
        rest = self.taken[1:]
        self._again.extendleft(reversed(rest))
        self.number -= len(rest)


def framed_rows(
    reader: Any, lines: Lines, headers: Sequence[str], delimiter: str
) -> Iterator[tuple[int, list[str] | str]]:
    """(line, cells) per record, or (line, problem) for a line with an unbalanced quote."""
    while True:
        first = lines.number + 1
        lines.taken = []
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if lines.number > first:
                yield first, _quote_problem(first, lines.number, f"the csv reader says: {exc}")
                lines.reread_after_first()
            else:
                yield first, f"unreadable CSV: {exc}"
            continue
        joined = _joined_lines(cells, headers, delimiter)
        if joined is not None:
            yield first, _quote_problem(first, lines.number, f"{joined} holds whole rows")
            lines.reread_after_first()
            continue
        yield first, cells


def _joined_lines(cells: list[str], headers: Sequence[str], delimiter: str) -> str | None:
    """The column whose cell holds whole following rows, if any.

    A cell may hold line breaks (a quoted note); a continuation line with a delimiter for every
    column of the file is a row, not a note. Files of fewer than three columns are not guessed at.
    """
    width = len(headers)
    if width < 3:
        return None
    for idx, cell in enumerate(cells):
        if "\n" not in cell and "\r" not in cell:
            continue
        if any(ln.count(delimiter) >= width - 1 for ln in cell.splitlines()[1:]):
            return repr(headers[idx].strip()) if idx < width else f"column {idx + 1}"
    return None


def _quote_problem(line: int, end: int, detail: str) -> str:
    return (
        f'a quote (") opened on line {line} is not closed on its line, so lines {line}–{end} '
        f"read as one row ({detail}): line {line} was not imported, the lines after it were read "
        "on their own; close or remove that quote and import the file again (rows already "
        "loaded are updated, not doubled)"
    )
