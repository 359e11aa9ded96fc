"""CSV cells that are safe to open in a spreadsheet (OWASP "CSV Injection").

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and
a leading tab or carriage return can smuggle one past a check; a plan's clip name or a
provider's text could then run ``=HYPERLINK(…)`` or ``+cmd|' /C calc'!A0`` on the machine of
whoever opens the export. Every CSV the product writes goes through :func:`safe_cell`:

- a *text* cell starting with one of those characters gets a leading ``'``, which
  spreadsheets show as text and do not evaluate (the OWASP advice);
- a cell that is a number (``-0.5``, ``+3``, ``1e-3``) stays a number: only text can be a
  formula, and a negative amount must still sum;
- a cell that already starts with ``'`` followed by something that would be escaped gets one
  more ``'``, so :func:`restore_cell` gives back exactly what was written, whatever the text.

Readers of our own CSVs (the plan importer) call :func:`restore_cell` on every cell.
Source: https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _needs_quote(text: str) -> bool:
    if not text:
        return False
    if text.startswith(QUOTE):
        return _needs_quote(text[1:]) or text[1:].startswith(QUOTE)
    return text.startswith(TRIGGERS) and not _is_number(text)


def safe_cell(value: Any) -> Any:
    """``value`` as a cell a spreadsheet will not evaluate: text that could start a formula
    gets a leading ``'``; numbers and other text are unchanged. Non-text values (ints,
    floats, ``Decimal``) are returned as they are."""
    if isinstance(value, str) and _needs_quote(value):
        return QUOTE + value
    return value


def restore_cell(text: str) -> str:
    """The text :func:`safe_cell` was given (drops the ``'`` it added, and only that)."""
    if text.startswith(QUOTE) and _needs_quote(text[1:]):
        return text[1:]
    return text


def _breaks_lines(cells: Iterable[Any]) -> bool:
    return any(isinstance(v, str) and ("\r" in v or "\n" in v) for v in cells)


class SafeWriter:
    """``csv.writer`` whose rows go through :func:`safe_cell`. A row with a carriage return
    or line feed inside a cell is written with every field quoted: the csv module quotes
    only the characters of its own ``lineterminator``, so with ``"\n"`` a lone ``"\r"``
    would end the row early and start the next one with whatever follows it — a formula."""

    def __init__(self, fh: Any, **kwargs: Any):
        self._w = csv.writer(fh, **kwargs)
        self._quoted = csv.writer(fh, **{**kwargs, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> Any:
        cells = [safe_cell(v) for v in row]
        return (self._quoted if _breaks_lines(cells) else self._w).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose values go through :func:`safe_cell` (rows with a line break
    in a cell fully quoted, as :class:`SafeWriter`)."""

    def __init__(self, f: Any, fieldnames: Any, **kwargs: Any):
        super().__init__(f, fieldnames, **kwargs)
        self._quoted = csv.DictWriter(f, fieldnames, **{**kwargs, "quoting": csv.QUOTE_ALL})

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        cells = {k: safe_cell(v) for k, v in rowdict.items()}
        if _breaks_lines(cells.values()):
            return self._quoted.writerow(cells)
        return super().writerow(cells)

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def frame_csv(frame: Any) -> str:
    """A pandas ``DataFrame`` as CSV text (header row, no index) through :class:`SafeWriter`;
    missing values (``None``, ``NaN``) are written as empty cells."""
    import io

    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                         for v in row])
    return out.getvalue()


__all__ = ["SafeDictWriter", "SafeWriter", "TRIGGERS", "frame_csv", "restore_cell",
           "safe_cell"]
