"""Source files and spans: where a piece of a ruleset came from."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A range of a source file: 0-based offsets, 1-based line and column (of the start and end)."""

    path: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def __repr__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


#: The span of nodes built by code rather than parsed (tests, generated rulesets).
NO_SPAN = Span("<none>", 0, 0, 1, 1, 1, 1)


_NEWLINE = re.compile("\n")
_LONE_CR = re.compile(r"\r(?!\n)")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The text of one `.krl` file, with a line index for turning offsets into positions.

    Line endings may be LF, CRLF or a lone CR (old Mac files): a lone CR is stored as LF."""

    path: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "\r" in self.text:
            # Old Mac files end lines with a lone CR: a newline, one character for one, so
            # offsets are those of the file (CRLF stays as it is: its CR ends the line text).
            object.__setattr__(self, "text", _LONE_CR.sub("\n", self.text))
        starts = [0]  # the line index, found by the regex engine rather than char by char
        starts.extend(match.end() for match in _NEWLINE.finditer(self.text))
        object.__setattr__(self, "_line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of an offset; columns count characters."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        """The span from offset `start` to offset `end` (exclusive)."""
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(self.path, start, end, line, column, end_line, end_column)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")
