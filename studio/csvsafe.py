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


class SafeWriter:
    """``csv.writer`` whose rows go through :func:`safe_cell`."""

    def __init__(self, fh: Any, **kwargs: Any):
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose values go through :func:`safe_cell`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: safe_cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


__all__ = ["SafeDictWriter", "SafeWriter", "TRIGGERS", "restore_cell", "safe_cell"]
