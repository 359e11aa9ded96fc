"""Cost pages in the app: the budget guard as a person meets it (refusal with the arithmetic,
then through after raising the cap; the 80 % banner; the confirmation dialog), the forecast
plan, team rate overrides with their audit trail, and the estimate-vs-actual ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from studio import catalog, forecast
from studio.config import SANDBOX_KEY, Secret, Settings
from studio.jobs import Job, JobStore
from studio.providers.oxen import OxenClient
from tests.app.conftest import open_page, texts

REPO = Path(__file__).resolve().parents[2]
TWENTY = REPO / "samples" / "plans" / "twenty_clips.csv"
ME = Settings.from_mapping({}).owner()


def spent(data_dir: Path, usd: str, *, model_id: str = catalog.STARLIGHT, quote: str | None = None,
          when: datetime | None = None, owner: str = ME) -> Job:
    """A finished, charged sandbox generation in the store (this period unless ``when``)."""
    when = when or datetime.now(UTC)
    job = Job(model_id=model_id, provider=catalog.get(model_id).provider, owner=owner,
              params={}, source={"kind": "sample", "label": "earlier.mp4"}, status="succeeded",
              target="sandbox", charge_usd=usd,
              quote={"amount_usd": quote or usd, "tier": "4k", "provenance": "published"},
              clip={"duration_s": 14.0, "width": 1280, "height": 720, "fps": 20.0},
              created_at=when, submitted_at=when, completed_at=when + timedelta(minutes=2))
    return JobStore(data_dir / "jobs.sqlite3").insert(job)


def set_budget(at, team: str) -> None:
    at.sidebar.text_input(key="budget:team").set_value(team)
    at.sidebar.button(key="FormSubmitter:budget:form-Save budget").click().run()


def cancel_new(sandbox_url: str, jobs: list[Job]) -> None:
    """Stop the sandbox from spending CPU on generations a test only needed queued."""
    client = OxenClient(sandbox_url, Secret(SANDBOX_KEY))
    for job in jobs:
        if job.remote_id and job.provider == "oxen":
            try:
                client.cancel(job.remote_id)
            except Exception:
                pass


@pytest.mark.parametrize("page", ["forecast", "rates", "ledger"])
def test_cost_pages_render(data_dir, page):
    at = open_page(page)
    assert not at.exception, at.exception
    assert "Budget" in " ".join(e.label for e in at.sidebar.expander)


def test_budget_refuses_with_arithmetic_then_raising_the_cap_lets_it_through(data_dir,
                                                                              sandbox_url):
    spent(data_dir, "8.50")
    at = open_page("starlight")
    set_budget(at, "10")
    assert not at.exception, at.exception
    # Spend is at 85 %: the banner says so on this page (and every other).
    assert "$8.50 of $10.00 spent (85%)" in texts(at)
    assert "$2.0916" in texts(at)  # the default Starlight 4k quote on the 14 s sample
    at.button(key="starlight:submit").click().run()
    shown = texts(at)
    assert "Refused" in shown and "$10.00" in shown and "$8.50" in shown
    assert "$2.0916 = $10.5916" in shown and "$0.5916 over" in shown
    store = JobStore(data_dir / "jobs.sqlite3")
    assert len(store.list()) == 1  # nothing stored, nothing sent

    set_budget(at, "20")
    at.button(key="starlight:submit").click().run()
    assert not at.exception, at.exception
    new = [j for j in store.list() if j.charge_usd is None]
    try:
        assert len(new) == 1 and new[0].remote_id, texts(at)
        assert new[0].quote_usd == "2.0916"
    finally:
        cancel_new(sandbox_url, new)


def test_the_80_percent_banner_is_on_every_page(data_dir):
    spent(data_dir, "8.50")
    (data_dir / "budget.json").write_text('{"period": "month", "team_usd": "10"}')
    for page in ("generations", "forecast", "rates", "ledger", "rhea"):
        at = open_page(page)
        assert "Team budget for" in texts(at) and "(85%)" in texts(at), page


def test_a_submit_above_the_threshold_asks_for_confirmation_first(data_dir, sandbox_url):
    at = open_page("starlight")
    at.number_input(key="starlight:n").set_value(3).run()  # 3 × $2.0916 = $6.2748 > $5
    at.button(key="starlight:submit").click().run()
    assert not at.exception, at.exception
    store = JobStore(data_dir / "jobs.sqlite3")
    assert store.list() == []  # asked, not sent
    assert "$6.2748" in texts(at)
    at.button(key="confirm-submit:yes").click().run()
    assert not at.exception, at.exception
    jobs = store.list()
    try:
        assert len(jobs) == 3 and all(j.remote_id for j in jobs), texts(at)
    finally:
        cancel_new(sandbox_url, jobs)


def test_an_imported_plan_shows_the_cli_total(data_dir, capsys):
    from studio.cli import main as cli

    at = open_page("forecast")
    at.file_uploader(key="forecast:csv").upload("twenty_clips.csv", TWENTY.read_bytes(),
                                                 "text/csv")
    at.run()
    at.button(key="forecast:import").click().run()
    assert not at.exception, at.exception
    total = forecast.price_plan(forecast.read_plan_csv(TWENTY)).total_usd
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Plan total"] == f"${total}"
    assert cli(["forecast", str(TWENTY)]) == 0
    assert f"Total: ${total}" in capsys.readouterr().out
    # The plan was saved: a new session shows it again.
    again = open_page("forecast")
    assert {m.label: m.value for m in again.metric}["Plan total"] == f"${total}"


def test_a_broken_csv_is_named_row_by_row_and_the_plan_kept(data_dir):
    at = open_page("forecast")
    at.button(key="forecast:addsample").click().run()
    bad = b"clip,duration_s,width,height,fps,model_id\nx,abc,1920,1080,24,starlight\n"
    at.file_uploader(key="forecast:csv").upload("bad.csv", bad, "text/csv")
    at.run()
    at.button(key="forecast:import").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "bad.csv was not imported" in shown and "row 1" in shown and "duration_s" in shown
    # The plan is untouched: still the sample row, still its quote.
    sample = forecast.price_plan([forecast.PlanRow(
        clip="cockatoo.mp4", duration_s=14.0, width=1280, height=720, fps=20.0,
        model_id=catalog.HYPERION)]).total_usd
    assert {m.label: m.value for m in at.metric}["Plan total"] == f"${sample}"


def test_team_override_is_audited_and_used_by_quotes(data_dir):
    at = open_page("rates")
    choices = at.selectbox(key="rates:pick")
    choices.set_value((catalog.STARLIGHT, "4k"))
    at.text_input(key="rates:usd").set_value("0.2")
    at.text_input(key="rates:reason").set_value("Invoice shows $0.20/s since October")
    at.button(key="FormSubmitter:rates:override-Save override").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "team override" in shown and "$0.2" in shown
    audit = at.dataframe[-1].value  # the audit trail is the last table on the page
    assert list(audit["reason"]) == ["Invoice shows $0.20/s since October"]
    assert list(audit["new_usd"]) == ["$0.2"]

    page = open_page("starlight")
    assert "team override" in texts(page) and "$2.8" in texts(page)  # 14 s × $0.20

    at.text_input(key="rates:usd").set_value("-1")
    at.text_input(key="rates:reason").set_value("typo")
    at.button(key="FormSubmitter:rates:override-Save override").click().run()
    assert "Not saved" in texts(at)


def test_ledger_shows_every_pair_and_the_error_per_model(data_dir):
    for i in range(10):
        model = [catalog.STARLIGHT, catalog.RHEA][i % 2]
        spent(data_dir, "1.00" if i % 2 else "2.00", model_id=model,
              quote="0.90" if i % 2 else "2.00")
    at = open_page("ledger")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quote/charge pairs"] == "10"
    table = at.dataframe[0].value  # "Error per model", the first table
    errors = dict(zip(table["model"], table["mean_abs_pct_error"], strict=True))
    assert errors["Topaz Starlight 2.5"] == pytest.approx(0.0)
    assert errors["Topaz Rhea"] == pytest.approx(10.0)  # |1.00 − 0.90| ÷ 1.00


def test_budget_json_that_cannot_be_read_is_a_sentence_not_a_crash(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "budget.json").write_text("{not json")
    at = open_page("starlight")
    assert not at.exception, at.exception
    assert "budget.json" in texts(at)


def test_the_plan_is_saved_as_typed_and_shown_again(data_dir):
    at = open_page("forecast")
    at.button(key="forecast:addsample").click().run()
    saved = next((data_dir / "plans").glob("*.csv"))
    rows = forecast.read_plan_csv(saved)
    assert [(r.clip, r.model_id, r.width, r.height, r.fps, r.duration_s) for r in rows] == [
        ("cockatoo.mp4", catalog.HYPERION, 1280, 720, 20.0, 14.0)]
    total = forecast.price_plan(rows).total_usd
    again = open_page("forecast")  # a new session: same plan, same total
    assert {m.label: m.value for m in again.metric}["Plan total"] == f"${total}"


def _add_sample_row(at, model_name: str) -> None:
    at.selectbox(key="forecast:fmodel").set_value(model_name).run()
    at.button(key="forecast:addsample").click().run()
    assert not at.exception, at.exception


def test_batch_submit_validates_every_row_then_confirms_the_total(data_dir, sandbox_url):
    at = open_page("forecast")
    _add_sample_row(at, "Topaz Hyperion HDR")
    _add_sample_row(at, "LTX HDR (direct)")  # 280 frames at 720p: over LTX's 181-frame cap
    picker = at.multiselect(key="forecast:send")
    assert len(picker.options) == 2
    picker.set_value([0, 1]).run()
    at.button(key="forecast:batch").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Nothing was sent" in shown and "181" in shown  # the LTX row, named
    store = JobStore(data_dir / "jobs.sqlite3")
    assert store.list() == []

    at.button(key="forecast:batchclose").click().run()
    at.multiselect(key="forecast:send").set_value([0]).run()
    at.button(key="forecast:batch").click().run()
    total = forecast.price_plan(forecast.read_plan_csv(next((data_dir / "plans").glob("*.csv")))
                                ).rows[0].amount_usd
    assert f"Total: ${total}" in texts(at)  # the confirmation states the total first
    assert store.list() == []
    at.button(key="forecast:batchgo").click().run()
    assert not at.exception, at.exception
    jobs = store.list()
    try:
        assert len(jobs) == 1 and jobs[0].model_id == catalog.HYPERION and jobs[0].remote_id
        assert "Submitted 1 generation(s) from 1 row(s)" in texts(at)
    finally:
        cancel_new(sandbox_url, jobs)


def test_live_pricing_is_shown_beside_the_bundled_rate_and_used(data_dir, monkeypatch):
    from studio.service import Studio

    monkeypatch.setenv("OXEN_API_KEY", "oxen-test-key-live")  # live mode, against the sandbox
    calls: list[str] = []

    def live_model(self, model_id):
        calls.append(model_id)
        if model_id != catalog.STARLIGHT:
            return {"pricing": {}}
        return {"pricing": {"method": "per_video_output_second", "cost_per_second": 0.05,
                            "cost_per_second_high_res": 0.16}}

    monkeypatch.setattr(Studio, "live_model", live_model)
    at = open_page("rates")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    row = table[(table["model"] == "Topaz Starlight 2.5") & (table["tier"] == "4k")].iloc[0]
    assert (row["provenance"], row["usd"], row["bundled_usd"], row["live_usd"]) == (
        "live", "0.16", "0.1494", "0.16")
    assert bool(row["live_differs"]) is True
    assert "kept for 600 s" in texts(at)
    fetched = len(calls)
    at.run()
    assert len(calls) == fetched  # within the TTL: no new fetch

    page = open_page("starlight")
    assert "live API rate" in texts(page) and "$2.24" in texts(page)  # 14 s × $0.16


PROVENANCES = {"live", "published", "proxy", "override"}
BADGES = ("published rate", "proxy estimate", "live API rate", "team override")


@pytest.mark.parametrize("page", ["hyperion_hdr", "ltx_hdr", "ltx_direct", "rhea", "starlight",
                                  "generations", "forecast", "ledger", "rates"])
def test_every_quote_on_every_page_names_its_provenance(data_dir, page):
    spent(data_dir, "1.50", quote="1.40")  # a generation with a quote, for the tables
    at = open_page(page)
    if page == "forecast":
        _add_sample_row(at, "Topaz Rhea")
    assert not at.exception, at.exception
    shown = texts(at)
    if page in ("hyperion_hdr", "ltx_hdr", "ltx_direct", "rhea", "starlight"):
        assert any(b in shown for b in BADGES), shown  # beside the quote
        assert "Source:" in shown
        return
    tables = [t.value for t in at.dataframe]
    column = {"generations": "Quote from", "forecast": "provenance", "ledger": "quote_provenance",
              "rates": "provenance"}[page]
    quoted = [t for t in tables if column in t.columns]
    assert quoted, [list(t.columns) for t in tables]
    for table in quoted:
        values = set(table[column].dropna())
        assert values and values <= PROVENANCES, values
