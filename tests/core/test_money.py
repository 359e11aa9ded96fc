"""Money as people read it (issue 10 item 14, issue 11 §5): headlines and totals to the cent,
arithmetic at full precision, one format in a sentence; never an exponent, never a crash."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from studio import money

D = Decimal


@pytest.mark.parametrize(("amount", "text"), [
    ("10", "$10.00"), ("8.5", "$8.50"), ("2.0916", "$2.09"), ("0", "$0.00"),
    ("68.8677", "$68.87"), ("0.005", "$0.01"),  # half-up, not banker's rounding
    ("0.0049", "$0.00"), ("1234.5", "$1,234.50"), ("1E+3", "$1,000.00"),
    ("-0.5", "-$0.50"), ("-0.001", "$0.00"), ("0E+5", "$0.00"), ("1e-40", "$0.00"),
    ("999999999999999.99", "$999,999,999,999,999.99"),
    ("1e24", "more than $1,000,000,000,000,000"), ("1E+999999999", "more than $1,000,000,000,000,000"),
    ("-1e20", "less than -$1,000,000,000,000,000"),
    ("NaN", "$NaN"), ("sNaN", "$NaN"), ("Infinity", "$Infinity"), ("-Infinity", "-$Infinity"),
])
def test_cents_is_the_headline_format(amount, text):
    assert money.cents(D(amount)) == text


@pytest.mark.parametrize(("amount", "text"), [
    ("0.1494", "$0.1494"), ("2.0916", "$2.0916"), ("4", "$4.00"), ("4.10", "$4.10"),
    ("1000", "$1,000.00"), ("0.0000001", "$0.0000001"), ("1E-7", "$0.0000001"),
    ("1E+2", "$100.00"), ("-0.50", "-$0.50"), ("0.0503333", "$0.0503333"),
])
def test_exact_keeps_every_digit_and_never_an_exponent(amount, text):
    assert money.exact(D(amount)) == text


def test_other_inputs_are_read_through_text():
    assert money.cents("2.0916") == "$2.09" and money.exact(0.1) == "$0.10"
    assert money.cents(5) == "$5.00" and money.cents("lots") == "$lots"
    assert money.cents(None) == "$None"  # never raises


def test_a_sentence_reads_to_the_cent_when_its_arithmetic_holds():
    """8.50 + 2.0916 = 10.5916 over a $10 cap: at the cent 8.50 + 2.09 = 10.59, 0.59 over —
    still true, so cents."""
    fmt = money.sentence([D("8.50"), D("2.0916"), D("10.5916"), D("0.5916")],
                         sums=[((D("8.50"), D("2.0916")), D("10.5916"))],
                         above_zero=[D("0.5916")])
    assert [fmt(x) for x in (D("8.50"), D("2.0916"), D("10.5916"))] == ["$8.50", "$2.09",
                                                                        "$10.59"]


def test_a_sentence_that_cents_would_falsify_uses_one_finer_format_for_all():
    """A $0.02 cap and a $0.0204 request: "$0.00 over" would be false, so every amount of
    the sentence reads at 4 decimals (not "$0.02" beside "$0.0204")."""
    fmt = money.sentence([D("0.02"), D("0"), D("0.0204"), D("0.0004")],
                         sums=[((D("0"), D("0.0204")), D("0.0204"))], above_zero=[D("0.0004")])
    assert [fmt(x) for x in (D("0.02"), D("0"), D("0.0204"), D("0.0004"))] == [
        "$0.0200", "$0.0000", "$0.0204", "$0.0004"]
    # Parts that no longer add up at the cent: 1.005 + 1.005 = 2.01, but $1.01 + $1.01 ≠ $2.01
    fmt = money.sentence([D("1.005"), D("2.01")], sums=[((D("1.005"), D("1.005")), D("2.01"))])
    assert fmt(D("1.005")) == "$1.005" and fmt(D("2.01")) == "$2.010"


def _imports(module: str) -> set[str]:
    """Every ``studio.*`` module ``module`` imports anywhere in its source: at the top,
    inside functions, or under ``TYPE_CHECKING``."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("studio"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("studio")}
    return out


def test_errors_budget_and_config_import_no_cycle():
    """Issue 11 §5: the errors ↔ budget ↔ config cycle is gone, counting imports inside
    functions and under TYPE_CHECKING too; money imports nothing of the package."""
    trio = ("studio.errors", "studio.budget", "studio.config", "studio.money")
    graph = {m: _imports(m) & set(trio) for m in trio}
    assert graph["studio.errors"] == {"studio.money"} and graph["studio.money"] == set()

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in graph[start])

    assert not [m for m in trio if reaches(m, m)], graph
    for module in ("errors", "budget", "config", "money"):  # each imports first on its own
        subprocess.run([sys.executable, "-c", f"import studio.{module}"], check=True)
