"""The ledger: quote vs charge per generation, by day, model and owner; spend per day; the
turnaround forecast. Pure tables over hand-made rows, then ten real sandbox generations."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from studio import ledger
from studio.config import Settings
from studio.jobs import Job, JobStore
from studio.local_sandbox import start_sandbox
from studio.money import cents
from studio.service import Source, Studio
from tests.model_ids import HYPERION, LTX_DIRECT, RHEA

D = Decimal
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def job(model: str = RHEA, *, quote: str | None = "1.00", charge: str | None = "1.00",
        owner: str = "alice", name: str | None = None, status: str = "succeeded",
        created_at: datetime = T0, wall_s: float | None = None, tier: str = "1080p",
        duration_s: float = 5.0) -> Job:
    submitted = created_at if wall_s is not None else None
    completed = created_at + timedelta(seconds=wall_s) if wall_s is not None else None
    return Job(model_id=model, provider="oxen", owner=owner, owner_name=name, params={},
               source={}, status=status, created_at=created_at, submitted_at=submitted,
               completed_at=completed, charge_usd=charge, clip={"duration_s": duration_s},
               quote={"amount_usd": quote, "tier": tier} if quote is not None else None)


@pytest.mark.parametrize(("quote", "charge", "expected"), [
    ("1.00", "1.00", 0.0),
    ("0.90", "1.00", 10.0),    # relative to the charge
    ("1.10", "1.00", 10.0),    # absolute
    ("1.00", "0.80", 25.0),
    ("1.00", None, None),      # no charge yet
    (None, "1.00", None),
    ("1.00", "0", None),       # a zero charge has no relative error
])
def test_abs_pct_error_is_relative_to_the_charge(quote, charge, expected):
    """|charge − quote| / charge × 100, only with both known and charge > 0."""
    got = ledger.abs_pct_error(quote and D(quote), charge and D(charge))
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_generation_rows_columns_and_pairs():
    """One row per generation with a quote or charge; Decimal money, NaN error when unpaired."""
    rows = ledger.generation_rows([
        job(quote="0.90", charge="1.00", created_at=T0 + timedelta(hours=1)),
        job(quote="1.00", charge=None, status="queued"),
        job(quote=None, charge=None, status="failed"),  # nothing to compare: left out
    ])
    assert list(rows.columns) == ledger.GENERATION_COLUMNS
    assert len(rows) == 2 and list(rows["status"]) == ["queued", "succeeded"]  # oldest first
    paired = rows.iloc[1]
    assert paired["quote_usd"] == D("0.90") and paired["charge_usd"] == D("1.00")
    assert paired["error_usd"] == D("0.10") and paired["abs_pct_error"] == pytest.approx(10.0)
    assert paired["day"] == date(2026, 11, 18)
    assert rows.iloc[0]["charge_usd"] is None and math.isnan(rows.iloc[0]["abs_pct_error"])


def test_error_by_model_day_and_owner():
    """Mean absolute % error over pairs only; sums compare like for like."""
    rows = [
        job(RHEA, quote="0.90", charge="1.00", owner="a", name="Ann"),
        job(RHEA, quote="1.00", charge="0.80", owner="a",
            created_at=T0 + timedelta(days=1)),
        job(RHEA, quote="5.00", charge=None, owner="b", status="processing"),
        job(HYPERION, quote="2.00", charge="2.00", owner="b", name="Ben"),
    ]
    by_model = ledger.error_by(rows, "model_id").set_index("model_id")
    assert list(by_model.columns) == ledger.ERROR_COLUMNS
    rhea = by_model.loc[RHEA]
    assert (rhea["generations"], rhea["pairs"]) == (3, 2)
    assert rhea["quoted_usd"] == D("1.90") and rhea["charged_usd"] == D("1.80")
    assert rhea["mean_abs_pct_error"] == pytest.approx(17.5)  # (10 + 25) / 2
    assert by_model.loc[HYPERION]["mean_abs_pct_error"] == 0.0

    by_day = ledger.error_by(rows, "day")
    assert list(by_day["day"]) == [date(2026, 11, 18), date(2026, 11, 19)]
    assert list(by_day["pairs"]) == [2, 1]

    by_owner = ledger.error_by(rows, "owner").set_index("owner")
    assert by_owner.loc["a", "owner_name"] == "Ann" and by_owner.loc["b", "owner_name"] == "Ben"
    assert math.isnan(ledger.error_by([job(charge=None)], "owner")["mean_abs_pct_error"][0])
    with pytest.raises(ValueError):
        ledger.error_by(rows, "status")


def test_spend_per_day_counts_known_charges():
    """Charges where known, per UTC day of creation; quotes are not spend here."""
    rows = [job(charge="1.25"), job(charge="0.75"), job(charge=None, status="queued"),
            job(charge="2", created_at=T0 + timedelta(days=2))]
    table = ledger.spend_per_day(rows)
    assert list(table["day"]) == [date(2026, 11, 18), date(2026, 11, 20)]
    assert list(table["charged_usd"]) == [D("2.00"), D("2")]
    assert list(table["generations"]) == [2, 1]
    assert list(ledger.spend_per_day([]).columns) == ["day", "charged_usd", "computed_usd",
                                                      "generations"]


def ltx_job(*, quote: str, charge: str | None, created_at: datetime = T0) -> Job:
    return Job(model_id=LTX_DIRECT, provider="ltx", owner="alice", params={},
               source={}, status="succeeded", created_at=created_at, charge_usd=charge,
               charge_source="computed" if charge else None,
               quote={"amount_usd": quote, "tier": "1080p"})


def test_every_figure_names_its_set_and_the_totals_reconcile():
    """Issue 10 item 3. Four generations on one day: Rhea quoted 2.9994 charged 2.9994
    (reported), Rhea quoted 1.00 charged 1.10 (reported), LTX direct quoted 1.81 with a
    computed charge of 1.81, and a queued Rhea quoted 5.00 with no charge.

    Charged covers the 3 with a charge: 2.9994 + 1.10 + 1.81 = 5.9094, and Quoted covers the
    same 3: 2.9994 + 1.00 + 1.81 = 5.8094 — not the pairs only. The day's spend bar is the
    day's Charged row (5.9094). LTX's computed charge is shown as charged and computed
    (1.81), and it has no measured pair and no error (blank, not $0 and not 0 %)."""
    rows = [job(quote="2.9994", charge="2.9994"), job(quote="1.00", charge="1.10"),
            ltx_job(quote="1.81", charge="1.81"), job(quote="5.00", charge=None,
                                                      status="queued")]
    total = ledger.totals(rows)
    assert (total.generations, total.charged, total.pairs) == (4, 3, 2)
    assert (total.charged_usd, total.quoted_usd) == (D("5.9094"), D("5.8094"))
    assert (total.computed_usd, total.reported_usd) == (D("1.81"), D("4.0994"))
    # |1.10 − 1.00| / 1.10 = 9.0909 %, and 0 % for the exact pair: mean 4.5455 %.
    assert total.mean_abs_pct_error == pytest.approx(100 * 0.10 / 1.10 / 2)
    for by in ("model_id", "day", "owner"):
        table = ledger.error_by(rows, by)
        assert sum(table["charged_usd"], D(0)) == total.charged_usd, by
        assert sum(table["quoted_usd"], D(0)) == total.quoted_usd, by
        assert sum(table["generations"]) == total.generations, by
        assert sum(table["pairs"]) == total.pairs, by
    per_day = ledger.spend_per_day(rows)
    by_day = ledger.error_by(rows, "day")
    assert list(per_day["charged_usd"]) == list(by_day["charged_usd"]) == [D("5.9094")]
    ltx = ledger.error_by(rows, "model_id").set_index("model_id").loc[LTX_DIRECT]
    assert (ltx["charged_usd"], ltx["computed_usd"], ltx["quoted_usd"]) == (
        D("1.81"), D("1.81"), D("1.81"))
    assert ltx["pairs"] == 0 and math.isnan(ltx["mean_abs_pct_error"])
    shown = ledger.generation_rows(rows)
    assert list(shown["charge_source"].fillna("—")) == ["sandbox", "sandbox", "computed", "—"]


@pytest.mark.parametrize(("provider", "target", "source", "label"), [
    ("oxen", "live", "reported", "Oxen"),
    ("oxen", "sandbox", "sandbox", "sandbox"),  # issue 10 item 10: not "Oxen"
    ("ltx", "live", "computed", "computed (billing rule)"),
    ("ltx", "sandbox", "computed", "computed (billing rule) · sandbox"),
    ("oxen", "sandbox", None, "sandbox"),  # a row from before charge_source: classified
])
def test_charge_from_says_where_the_charge_came_from(provider, target, source, label):
    j = Job(model_id=RHEA, provider=provider, owner="a", params={}, source={},
            status="succeeded", target=target, charge_usd="1.00", charge_source=source)
    assert ledger.charge_source_label(j) == label
    assert ledger.charge_source_label(Job(model_id=RHEA, provider=provider, owner="a",
                                          params={}, source={}, target=target)) == ""


@pytest.mark.parametrize(("seconds", "text"), [
    (35.7172, "36 s"), (96, "1 min 36 s"), (120, "2 min"), (0.2, "0 s"), (3725, "1 h 02 min"),
    (None, ""), (float("nan"), ""),
])
def test_durations_read_like_people_say_them(seconds, text):
    """Issue 10 item 12: "35.7172" seconds is "36 s"; 96 s is "1 min 36 s"."""
    assert ledger.duration_text(seconds) == text


@pytest.mark.parametrize(("duration", "bucket"), [
    (0.5, "≤10 s"), (10, "≤10 s"), (10.01, "≤30 s"), (30, "≤30 s"), (59, "≤60 s"),
    (300, "≤300 s"), (301, ">300 s"), (7200, ">300 s"),
])
def test_duration_buckets(duration, bucket):
    """Upper bounds are inclusive."""
    assert ledger.duration_bucket(duration) == bucket


def test_turnaround_estimate_is_a_rounded_up_median_of_three_or_more():
    """Median of succeeded runs of the same model, tier and duration bucket; None below 3."""
    same = [job(wall_s=s) for s in (100, 130, 400)]
    other = [job(wall_s=5, tier="4k"), job(wall_s=5, duration_s=45), job(wall_s=5,
             model=HYPERION), job(wall_s=5, status="failed"), job(status="queued")]
    estimate = ledger.turnaround_estimate(same + other, RHEA, "1080p", 8.0)
    assert estimate is not None
    assert (estimate.minutes, estimate.samples, estimate.median_s) == (3, 3, 130.0)
    assert estimate.label == "about 3 min (median of 3)"
    assert ledger.turnaround_estimate(same[:2] + other, RHEA, "1080p", 8.0) is None
    quick = ledger.turnaround_estimate([job(wall_s=s) for s in (1, 2, 3)], RHEA,
                                       "1080p", 1.0)
    assert quick is not None and quick.minutes == 1  # at least a minute
    table = ledger.turnaround_table(same + other)
    row = table[(table["tier"] == "1080p") & (table["duration_bucket"] == "≤10 s")
                & (table["model_id"] == RHEA)].iloc[0]
    assert (row["samples"], row["median_s"]) == (3, 130.0)


def test_wall_time_clamps_clock_skew():
    """Provider completion a little before our submit time counts as 0 s, not negative."""
    skewed = job(wall_s=-0.4)
    assert ledger.wall_time_s(skewed) == 0.0
    assert ledger.wall_time_s(job(status="failed", wall_s=10)) is None


# -- ten real generations -----------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("sbx-ledger"), port=None, workers=2)
    yield sb.url
    sb.stop()


def run_until_done(studio: Studio, timeout: float = 180.0) -> list[Job]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        studio.tracker.poll_due(now=time.time() + 60)  # ignore backoff: the test is the clock
        if not studio.store.count_active():
            return studio.store.list()
        time.sleep(0.3)
    raise AssertionError("generations did not finish in time")


def test_ledger_after_ten_sandbox_generations(tmp_path, sandbox, realshort, monkeypatch):
    """Ten generations (Rhea 720p 4 + 4, Hyperion 2): ten quote/charge pairs, a per-model
    error row each, and a turnaround forecast for the model with enough samples. The tracker
    must record Oxen's reported ``cost`` as the charge."""
    settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox, "LTX_BASE_URL": sandbox,
                                      "STUDIO_DATA_DIR": str(tmp_path)})
    studio = Studio(settings, JobStore(tmp_path / "jobs.sqlite3"), sandbox_url=sandbox)
    src = Source("upload", "realshort.mp4", path=realshort)
    rhea = studio.prepare(RHEA, src, {"resolution": "720p"})
    hyperion = studio.prepare(HYPERION, src, {})
    outcomes = studio.submit_plan([(rhea, 4), (rhea, 4), (hyperion, 2)])
    assert all(o.ok for o in outcomes)
    done = run_until_done(studio)
    assert len(done) == 10 and {j.status for j in done} == {"succeeded"}
    assert all(j.charge_usd is not None for j in done), "Oxen cost not recorded as charge"
    assert {j.charge_source for j in done} == {"sandbox"}  # the sandbox's figure, said so

    rows = ledger.generation_rows(done)
    pairs = rows[rows["abs_pct_error"].notna()]
    assert len(pairs) == 10
    by_model = ledger.error_by(done, "model_id").set_index("model_id")
    assert set(by_model.index) == {RHEA, HYPERION}
    assert list(by_model.loc[[RHEA, HYPERION], "pairs"]) == [8, 2]
    # The sandbox charges the quote of the probed clip: no error.
    assert list(by_model["mean_abs_pct_error"]) == [0.0, 0.0]
    assert ledger.spend_per_day(done)["charged_usd"].sum() == sum(
        (j.charge_usd for j in done), D(0))

    estimate = ledger.turnaround_estimate(done, RHEA, "720p", rhea.clip.duration_s)
    assert estimate is not None and estimate.samples == 8 and estimate.minutes >= 1
    assert estimate.label.startswith("about ") and estimate.label.endswith("(median of 8)")
    assert ledger.turnaround_estimate(done, HYPERION, hyperion.quote.tier,
                                      hyperion.clip.duration_s) is None  # only 2 samples

    # The same store on the Estimate-vs-actual page: ten pairs and an error row per model.
    import streamlit as st

    from tests.app.conftest import open_page

    for name, value in (("STUDIO_DATA_DIR", str(tmp_path)), ("OXEN_BASE_URL", sandbox),
                        ("LTX_BASE_URL", sandbox)):
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = open_page("ledger")
        assert not at.exception, at.exception
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Mean error, 10 measured pairs"] == "0.00 %"
        assert metrics["Charged (10 generations)"] == cents(sum((j.charge_usd for j in done),
                                                                D(0)))
        table = at.dataframe[0].value  # "Per model"
        assert dict(zip(table["Model"], table["Measured pairs"], strict=True)) == {
            "Topaz Rhea": 8, "Topaz Hyperion HDR": 2}
        assert list(table["Mean abs. % error"]) == ["0.00 %", "0.00 %"]
    finally:
        st.cache_resource.clear()
