"""Cost pages in the app: the budget guard as a person meets it (refusal with the arithmetic,
then through after raising the cap; the 80 % banner; the confirmation dialog), the forecast
plan, team rate overrides with their audit trail, and the estimate-vs-actual ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from studio import forecast, models
from studio.budget import BudgetStore
from studio.config import SANDBOX_KEY, Secret, Settings
from studio.jobs import Job, JobStore
from studio.money import cents
from studio.providers.oxen import OxenClient
from tests.app.conftest import open_page, texts
from tests.model_ids import HYPERION, LTX_DIRECT, RHEA, STARLIGHT

REPO = Path(__file__).resolve().parents[2]
TWENTY = REPO / "samples" / "plans" / "twenty_clips.csv"
ME = Settings.from_mapping({}).owner()
D = Decimal


def spent(data_dir: Path, usd: str, *, model_id: str = STARLIGHT, quote: str | None = None,
          when: datetime | None = None, owner: str = ME) -> Job:
    """A finished, charged sandbox generation in the store (this period unless ``when``)."""
    when = when or datetime.now(UTC)
    job = Job(model_id=model_id, provider=models.get(model_id).provider, owner=owner,
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


def test_the_quote_card_and_button_show_the_budget_verdict_before_the_click(data_dir,
                                                                             sandbox_url):
    """Issue 10 item 8: a $5 cap with $4.81 spent and the $2.0916 Starlight 4k quote:
    before any click the card says "would cross the team cap by $1.90" (4.81 + 2.0916 − 5 =
    1.9016) and the button says so and cannot be pressed; with the cap raised to $20 the card
    and the button say "fits", and the submit goes through."""
    spent(data_dir, "4.81")
    at = open_page("starlight")
    set_budget(at, "5")
    assert not at.exception, at.exception
    shown = texts(at)
    # Issue 10 item 14: the headline quote to the cent, its basis line at full precision.
    assert {m.label: m.value for m in at.metric}["Quote"] == "$2.09"
    assert "14 output s × $0.1494 = $2.0916" in shown
    assert "Would cross the team cap by $1.90." in shown
    assert "$4.81 spent + this request $2.09 = $6.90 of $5.00, $1.90 over" in shown
    button = at.button(key="starlight:submit")
    assert button.label == "Submit · $2.09 · would cross the team cap by $1.90"
    assert button.disabled
    store = JobStore(data_dir / "jobs.sqlite3")
    assert len(store.list()) == 1  # nothing stored, nothing sent

    set_budget(at, "20")
    assert "Fits the team cap." in texts(at)
    button = at.button(key="starlight:submit")
    assert button.label == "Submit · $2.09 · fits the team cap" and not button.disabled
    button.click().run()
    assert not at.exception, at.exception
    new = [j for j in store.list() if j.charge_usd is None]
    try:
        assert len(new) == 1 and new[0].remote_id, texts(at)
        assert new[0].quote_usd == Decimal("2.0916")
    finally:
        cancel_new(sandbox_url, new)


def test_the_80_percent_banner_is_on_every_page(data_dir):
    spent(data_dir, "8.50")
    BudgetStore(JobStore(data_dir / "jobs.sqlite3")).save(period="month", team_usd="10")
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
    assert "quoted at $6.27, above the $5.00" in texts(at)
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
    assert metrics["Plan total"] == cents(total)  # a headline total: to the cent
    assert cli(["forecast", str(TWENTY)]) == 0
    assert f"Total: {cents(total)}" in capsys.readouterr().out
    # The plan was saved: a new session shows it again.
    again = open_page("forecast")
    assert {m.label: m.value for m in again.metric}["Plan total"] == cents(total)


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
        model_id=HYPERION)]).total_usd
    assert {m.label: m.value for m in at.metric}["Plan total"] == cents(sample)


def test_team_override_is_audited_and_used_by_quotes(data_dir):
    at = open_page("rates")
    choices = at.selectbox(key="rates:pick")
    choices.set_value((STARLIGHT, "4k"))
    at.text_input(key="rates:usd").set_value("0.2")
    at.text_input(key="rates:reason").set_value("Invoice shows $0.20/s since October")
    at.button(key="FormSubmitter:rates:override-Save override").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "is now $0.20 (team override)" in shown
    audit = at.dataframe[-1].value  # the audit trail is the last table on the page
    assert list(audit["Reason"]) == ["Invoice shows $0.20/s since October"]
    assert list(audit["After"]) == ["$0.20"]
    # Issue 10 item 12: the first override's line says what it replaced, not a blank.
    assert list(audit["Before"]) == ["$0.1494 (published)"]
    assert list(audit["Change"]) == ["added"]
    assert not [c for c in audit.columns if "_" in c]  # human headers

    page = open_page("starlight")
    assert "team override" in texts(page)
    assert {m.label: m.value for m in page.metric}["Quote"] == "$2.80"  # 14 s × $0.20

    at.text_input(key="rates:usd").set_value("-1")
    at.text_input(key="rates:reason").set_value("typo")
    at.button(key="FormSubmitter:rates:override-Save override").click().run()
    assert "Not saved" in texts(at)


def test_ledger_shows_every_pair_and_the_error_per_model(data_dir):
    for i in range(10):
        model = [STARLIGHT, RHEA][i % 2]
        spent(data_dir, "1.00" if i % 2 else "2.00", model_id=model,
              quote="0.90" if i % 2 else "2.00")
    at = open_page("ledger")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Mean error, 10 measured pairs"] == "5.00 %"  # (0 × 5 + 10 × 5) / 10
    table = at.dataframe[0].value  # "Per model", the first table
    errors = dict(zip(table["Model"], table["Mean abs. % error"], strict=True))
    assert errors["Topaz Starlight 2.5"] == "0.00 %"
    assert errors["Topaz Rhea"] == "10.00 %"  # |1.00 − 0.90| ÷ 1.00


def test_ledger_figures_name_their_set_and_reconcile_with_the_tables(data_dir):
    """Issue 10 item 3: two sandbox generations charged $2.9994 each, an LTX direct one with
    a computed $1.81, and one still queued ($5.00 quoted). Charged ($7.81 = 2.9994 + 2.9994 +
    1.81) and Quoted cover the same 3 generations and equal the column sums of the tables
    under them; the day's row says $7.81 like the day's bar; the LTX charge reads as
    computed, with a blank error (not "$0 | $0 | None")."""
    spent(data_dir, "2.9994")
    spent(data_dir, "2.9994", quote="2.5")
    store = JobStore(data_dir / "jobs.sqlite3")
    now = datetime.now(UTC)
    store.insert(Job(model_id=LTX_DIRECT, provider="ltx", owner=ME, owner_name="Ada",
                     params={}, source={"label": "x.mp4"}, status="succeeded", target="sandbox",
                     quote={"amount_usd": "1.81", "tier": "1080p", "provenance": "published"},
                     charge_usd="1.81", charge_source="computed", created_at=now,
                     submitted_at=now, completed_at=now + timedelta(seconds=96)))
    store.insert(Job(model_id=RHEA, provider="oxen", owner=ME, params={},
                     source={"label": "q.mp4"}, status="queued", target="sandbox",
                     quote={"amount_usd": "5.00", "tier": "4k", "provenance": "proxy"},
                     created_at=now))
    at = open_page("ledger")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Generations"] == "4"
    assert metrics["Charged (3 generations)"] == "$7.81"  # 7.8088
    assert metrics["Quoted for those 3"] == "$7.31"  # 2.9994 + 2.5 + 1.81 = 7.3094
    by_model, by_day = at.dataframe[0].value, at.dataframe[1].value
    for table in (by_model, by_day):  # per model: $6.00 (5.9988) + $1.81; per day: $7.81
        assert sum(D(v.strip("$")) for v in table["Charged"] if v) == D("7.81")
        assert sum(table["Generations"]) == 4 and sum(table["With a charge"]) == 3
        assert not [c for c in table.columns if "_" in c]
        assert "None" not in table.astype(str).to_string()
    assert list(by_day["Charged"]) == ["$7.81"]
    ltx = by_model[by_model["Model"] == "LTX HDR (direct)"].iloc[0]
    assert (ltx["Charged"], ltx["of which computed"], ltx["Measured pairs"]) == (
        "$1.81", "$1.81", 0)
    assert ltx["Mean abs. % error"] == ""  # nothing measured: blank, not "None" or 0 %
    rows = at.dataframe[-1].value  # every generation
    assert set(rows["Charge from"]) == {"sandbox", "computed (billing rule)", ""}
    assert "None" not in rows.astype(str).to_string()
    assert set(rows["Owner"]) == {"Ada", "(no name)"}  # never the key fingerprint
    assert ME not in rows.astype(str).to_string()


def test_budget_json_that_cannot_be_read_is_a_sentence_not_a_crash(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "budget.json").write_text("{not json")
    at = open_page("starlight")
    assert not at.exception, at.exception
    assert "budget.json" in texts(at)


def test_the_plan_is_saved_as_typed_and_shown_again(data_dir):
    at = open_page("forecast")
    at.button(key="forecast:addsample").click().run()
    saved, _when = JobStore(data_dir / "jobs.sqlite3").plans.get(ME)  # in the store
    rows, problems = forecast.rows_from_records(saved)
    assert not problems and not (data_dir / "plans").exists()
    assert [(r.clip, r.model_id, r.width, r.height, r.fps, r.duration_s) for r in rows] == [
        ("cockatoo.mp4", HYPERION, 1280, 720, 20.0, 14.0)]
    total = forecast.price_plan(rows).total_usd
    again = open_page("forecast")  # a new session: same plan, same total
    assert {m.label: m.value for m in again.metric}["Plan total"] == cents(total)


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
    saved, _when = JobStore(data_dir / "jobs.sqlite3").plans.get(ME)
    total = forecast.price_plan(forecast.rows_from_records(saved)[0]).rows[0].amount_usd
    assert f"Total: {cents(total)}" in texts(at)  # the confirmation states the total first
    assert store.list() == []
    at.button(key="forecast:batchgo").click().run()
    assert not at.exception, at.exception
    jobs = store.list()
    try:
        assert len(jobs) == 1 and jobs[0].model_id == HYPERION and jobs[0].remote_id
        assert "Submitted 1 generation(s) from 1 row(s)" in texts(at)
    finally:
        cancel_new(sandbox_url, jobs)


def test_live_pricing_is_shown_beside_the_bundled_rate_and_used(data_dir, monkeypatch):
    from studio.service import Studio

    monkeypatch.setenv("OXEN_API_KEY", "oxen-test-key-live")  # live mode, against the sandbox
    calls: list[str] = []

    def live_model(self, model_id):
        calls.append(model_id)
        if model_id != STARLIGHT:
            return {"pricing": {}}
        return {"pricing": {"method": "per_video_output_second", "cost_per_second": 0.05,
                            "cost_per_second_high_res": 0.16}}

    monkeypatch.setattr(Studio, "live_model", live_model)
    at = open_page("rates")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    row = table[(table["Model"] == "Topaz Starlight 2.5") & (table["Tier"] == "4k")].iloc[0]
    assert (row["From"], row["Rate"], row["Bundled"], row["Live"]) == (
        "live", "$0.16", "$0.1494", "$0.16")
    assert bool(row["Live ≠ bundled"]) is True
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
    column = {"generations": "Quote from", "forecast": "provenance", "ledger": "Quote from",
              "rates": "From"}[page]
    quoted = [t for t in tables if column in t.columns]
    assert quoted, [list(t.columns) for t in tables]
    for table in quoted:
        values = set(table[column].dropna())
        assert values and values <= PROVENANCES, values


def test_sandbox_charges_say_sandbox_in_the_generations_table(data_dir):
    """Issue 10 item 10: a generation that ran on the sandbox says "Charge from: sandbox"
    (it said "Oxen"); one whose charge was computed says so."""
    spent(data_dir, "2.0916")  # a sandbox Oxen run, stored before charge_source existed
    store = JobStore(data_dir / "jobs.sqlite3")
    now = datetime.now(UTC)
    store.insert(Job(model_id=LTX_DIRECT, provider="ltx", owner=ME, params={},
                     source={"label": "l.mp4"}, status="succeeded", target="sandbox",
                     quote={"amount_usd": "1.81", "provenance": "published"},
                     charge_usd="1.81", charge_source="computed", created_at=now))
    at = open_page("generations")
    assert not at.exception, at.exception
    [table] = [d.value for d in at.dataframe if "Charge from" in d.value.columns]
    assert sorted(table["Charge from"]) == ["computed (billing rule) · sandbox", "sandbox"]
    assert sorted(table["Charge (USD)"]) == ["$1.81", "$2.0916"]  # every digit per generation


def test_cancel_asks_first_and_says_what_the_provider_bills(data_dir, monkeypatch):
    """Issue 10 item 9: Cancel does nothing on the first click; it asks, saying that Oxen
    does not document whether a cancelled generation is billed (oxen.md §8). "Keep it
    running" sends nothing; "Yes, cancel it" sends the one cancel."""
    from studio.service import Studio

    calls: list[str] = []
    monkeypatch.setattr(Studio, "cancel", lambda self, job: calls.append(job.id) or job)
    # No tracker: the made-up generation must stay in flight while the test clicks.
    monkeypatch.setattr(Studio, "start_background", lambda self: self)
    store = JobStore(data_dir / "jobs.sqlite3")
    job = store.insert(Job(model_id=STARLIGHT, provider="oxen", owner=ME, params={},
                           source={"label": "c.mp4"}, status="processing", remote_id="gen-1",
                           target="sandbox", next_poll_at=time.time() + 3600,
                           quote={"amount_usd": "2.0916", "provenance": "published"}))
    at = open_page("generations")
    assert "not document whether" not in texts(at)
    at.button(key=f"generations:detail:cancel:{job.id}").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Cancel this generation? Oxen does not document whether a cancelled generation " \
           "is billed (oxen.md §8): the work done so far may still be charged (quoted at " \
           "$2.09)." in shown
    assert calls == []
    at.button(key=f"generations:detail:cancel-no:{job.id}").click().run()
    assert calls == [] and "not document whether" not in texts(at)
    at.button(key=f"generations:detail:cancel:{job.id}").click().run()
    at.button(key=f"generations:detail:cancel-yes:{job.id}").click().run()
    assert not at.exception, at.exception
    assert calls == [job.id]


def test_the_ledger_reads_like_a_report_not_internals(data_dir):
    """Issue 10 item 12: human headers, blanks not "None", turnaround "1 min 36 s" (not
    "96.0"), owners by display name — the key fingerprint only in a tooltip."""
    store = JobStore(data_dir / "jobs.sqlite3")
    now = datetime.now(UTC)
    for i in range(3):  # three finished Rhea 4k runs of 96 s: a turnaround median
        store.insert(Job(model_id=RHEA, provider="oxen", owner=ME, owner_name="Grace",
                         params={}, source={"label": f"{i}.mp4"}, status="succeeded",
                         target="sandbox", quote={"amount_usd": "0.70", "tier": "4k",
                                                  "provenance": "proxy"},
                         clip={"duration_s": 14.0}, charge_usd="0.70", created_at=now,
                         submitted_at=now, completed_at=now + timedelta(seconds=96)))
    at = open_page("ledger")
    assert not at.exception, at.exception
    turnaround = next(d.value for d in at.dataframe if "Median turnaround" in d.value.columns)
    assert list(turnaround["Median turnaround"]) == ["1 min 36 s"]
    for table in (d.value for d in at.dataframe):
        assert not [c for c in table.columns if "_" in c], list(table.columns)
        assert "None" not in table.astype(str).to_string()
    owners = [m.value for m in at.markdown if "Grace" in str(m.value)]
    assert owners and f'title="key fingerprint {ME}"' in owners[0]
    assert f">{ME}<" not in owners[0] and "| Grace" not in owners[0].replace(">Grace<", "")


def test_same_plan_every_model_never_contradicts_itself(data_dir):
    """Issue 10 item 2, on the page: for the twenty-clip plan, at every target the upscaling
    job names Rhea as the cheapest that meets it (never "No model can take the upscaling
    rows" beside bars), and the HDR job is named only where a model meets the target."""
    at = open_page("forecast")
    at.file_uploader(key="forecast:csv").upload("twenty_clips.csv", TWENTY.read_bytes(),
                                                 "text/csv")
    at.run()
    at.button(key="forecast:import").click().run()
    at.segmented_control(key="forecast:chart").set_value("Same plan, every model").run()
    for target, hdr in (("720p", "Topaz Hyperion HDR"), ("1080p", None), ("2k", None),
                        ("4k", None)):
        at.segmented_control(key="forecast:target").set_value(target).run()
        assert not at.exception, at.exception
        successes = [s.value for s in at.success]
        infos = [i.value for i in at.info]
        assert any(s.startswith(f"Upscaling: the cheapest model that meets {target} is "
                                "**Topaz Rhea**") for s in successes), successes
        assert not [i for i in infos if i.startswith("Upscaling")], infos
        if hdr:
            assert any(s.startswith(f"SDR → HDR: the cheapest model that meets {target} is "
                                    f"**{hdr}**") for s in successes), successes
        else:
            assert any(i.startswith(f"SDR → HDR: no model takes every row of this job to "
                                    f"{target}") for i in infos), infos
            assert not [s for s in successes if s.startswith("SDR → HDR")]


def test_plan_rows_are_numbered_alike_and_frame_rates_read_plainly(data_dir):
    """Issue 10 item 20: the plan editor and the priced table number the same row the same
    way, from 1 (as every "row N" sentence does), and a frame rate reads 20 / 29.97 /
    23.976, never "20.000" — the format the tables send the browser is printf-style, applied
    here with Python's own printf operator."""
    import json

    rows = forecast.read_plan_csv(Path(__file__).resolve().parents[2] / "samples" / "plans"
                                  / "twenty_clips.csv")
    store = JobStore(data_dir / "jobs.sqlite3")
    forecast.save_plan(store, ME, rows)
    store.close()
    at = open_page("forecast")
    assert not at.exception, at.exception
    [editor] = [d for d in at.dataframe if d.proto.editing_mode]
    [priced] = [d for d in at.dataframe if "row" in d.value.columns]
    assert list(editor.value.index) == list(priced.value["row"]) == list(range(1, 21))
    assert list(editor.value["clip"]) == list(priced.value["clip"])  # same row, same number
    for table in (editor, priced):
        fmt = json.loads(table.proto.columns)["fps"]["type_config"]["format"]
        assert fmt % 20.0 == "20" and fmt % 29.97 == "29.97" and fmt % (24000 / 1001) == "23.976"
