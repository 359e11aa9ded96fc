"""Budgets: UTC calendar periods, what counts as spend, the verdict's arithmetic, saved caps,
and the guard in ``Studio.submit`` against a real sandbox (nothing stored or sent when
refused; confirmation above the threshold)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from studio import budget
from studio.budget import BudgetConfig, BudgetStore, Spend
from studio.config import Settings
from studio.errors import BudgetExceededError, ConfigError, ConfirmationRequired, ParamError
from studio.jobs import Job, JobStore
from studio.local_sandbox import start_sandbox
from studio.service import Source, Studio
from tests.model_ids import STARLIGHT

D = Decimal
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday


def job(status: str = "succeeded", *, charge: str | None = None, quote: str | None = "1.00",
        owner: str = "alice", created_at: datetime = NOW) -> Job:
    return Job(model_id=STARLIGHT, provider="oxen", owner=owner, params={}, source={},
               status=status, charge_usd=charge,
               quote={"amount_usd": quote, "tier": "4k"} if quote is not None else None,
               created_at=created_at)


# -- periods ------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "now", "start", "end", "label", "resets"), [
    ("day", NOW, datetime(2026, 11, 18), datetime(2026, 11, 19), "18 November 2026",
     "19 November"),
    ("day", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 12, 31),
     datetime(2027, 1, 1), "31 December 2026", "1 January 2027"),
    # Weeks start on Monday: Wednesday, the Monday itself, and the Sunday before the next one.
    ("week", NOW, datetime(2026, 11, 16), datetime(2026, 11, 23),
     "the week of 16 November 2026", "Monday 23 November"),
    ("week", datetime(2026, 11, 16, 0, 0, tzinfo=UTC), datetime(2026, 11, 16),
     datetime(2026, 11, 23), "the week of 16 November 2026", "Monday 23 November"),
    ("week", datetime(2026, 11, 22, 23, 59, tzinfo=UTC), datetime(2026, 11, 16),
     datetime(2026, 11, 23), "the week of 16 November 2026", "Monday 23 November"),
    ("week", datetime(2026, 12, 30, tzinfo=UTC), datetime(2026, 12, 28), datetime(2027, 1, 4),
     "the week of 28 December 2026", "Monday 4 January 2027"),
    ("month", NOW, datetime(2026, 11, 1), datetime(2026, 12, 1), "November 2026", "1 December"),
    ("month", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 12, 1),
     datetime(2027, 1, 1), "December 2026", "1 January 2027"),
    ("month", datetime(2028, 2, 29, 12, tzinfo=UTC), datetime(2028, 2, 1), datetime(2028, 3, 1),
     "February 2028", "1 March"),
    # UTC calendar: 01:00 on 1 December in UTC+2 is still 30 November in UTC.
    ("month", datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
     datetime(2026, 11, 1), datetime(2026, 12, 1), "November 2026", "1 December"),
])
def test_period_bounds_are_utc_calendar_periods(kind, now, start, end, label, resets):
    """A period is [start, end) in UTC; the label and the reset day read naturally."""
    period = budget.period_for(kind, now)
    assert (period.start, period.end) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
    assert period.label == label and period.resets == resets
    assert period.contains(period.start) and not period.contains(period.end)


def test_period_rejects_unknown_kind_and_naive_time():
    """Only day/week/month and aware datetimes."""
    with pytest.raises(ValueError):
        budget.period_for("year", NOW)
    with pytest.raises(ValueError):
        budget.period_for("day", datetime(2026, 11, 18))


# -- spend --------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "charge", "quote", "expected"), [
    ("succeeded", "0.95", "1.00", Spend(charged=D("0.95"))),   # the charge, not the quote
    ("succeeded", None, "1.00", Spend(pending=D("1.00"))),     # charge not known yet: quote
    ("failed", "0.10", "1.00", Spend(charged=D("0.10"))),      # a known charge always counts
    ("failed", None, "1.00", Spend()),                         # not billed
    ("cancelled", None, "1.00", Spend()),
    ("expired", None, "1.00", Spend()),
    ("submitting", None, "1.00", Spend(in_flight=D("1.00"))),
    ("waiting", None, "1.00", Spend(in_flight=D("1.00"))),
    ("queued", None, "1.00", Spend(in_flight=D("1.00"))),
    ("processing", None, "1.00", Spend(in_flight=D("1.00"))),
    ("unknown", None, "1.00", Spend(in_flight=D("1.00"))),     # may have been charged
    ("queued", None, None, Spend()),                            # nothing to count
])
def test_what_one_generation_counts(status, charge, quote, expected):
    """Charged where known; else the quote while it may still cost money."""
    assert budget.job_spend(job(status, charge=charge, quote=quote)) == expected


def test_spend_counts_the_period_by_created_at_and_filters_the_owner():
    """Team = every owner; owner = own rows; rows from another period do not count."""
    period = budget.period_for("month", NOW)
    rows = [
        job(charge="2.00", owner="alice"),
        job("queued", quote="0.50", owner="alice"),
        job(charge="3.00", owner="bob"),
        job(charge="9.00", owner="alice", created_at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC)),
        job(charge="9.00", owner="alice", created_at=datetime(2026, 12, 1, tzinfo=UTC)),
    ]
    assert budget.spend(rows, period) == Spend(charged=D("5.00"), in_flight=D("0.50"))
    assert budget.spend(rows, period, owner="alice").total == D("2.50")
    assert budget.spend(rows, period, owner="carol").total == 0


# -- verdicts -----------------------------------------------------------------------------
def test_refusal_spells_out_the_arithmetic():
    """$10 cap, $8.50 spent, $2.0916 asked: refused, and the sentence shows every figure, all
    to the cent (one format in a sentence: 8.50 + 2.0916 = 10.5916 → $10.59, $0.59 over)."""
    config = BudgetConfig(period="month", team_usd=D("10"))
    verdict = budget.check([job(charge="8.50", owner="bob")], config, "alice", D("2.0916"), NOW)
    assert not verdict.allowed and verdict.warn
    assert verdict.message == (
        "Refused: team budget for November 2026 is $10.00; spent $8.50 (charged $8.50 + in "
        "flight $0.00) + this request $2.09 = $10.59, which is $0.59 over. Raise the "
        "budget or wait until 1 December (UTC).")


def test_verdict_headline_before_the_click():
    """Issue 10 item 8: a $5 cap with $4.81 spent and a $2.0916 request reads "would cross
    the team cap by $1.90" (4.81 + 2.0916 − 5 = 1.9016); a $10 cap "fits" with $3.10 left
    (10 − 6.9016 = 3.0984 → $3.10); no cap, no words."""
    rows = [job(charge="4.81", owner="bob")]
    over = budget.check(rows, BudgetConfig(team_usd=D("5")), "alice", D("2.0916"), NOW)
    assert over.headline == "would cross the team cap by $1.90"
    assert "$4.81 spent + this request $2.09 = $6.90 of $5.00, $1.90 over" in over.detail
    fits = budget.check(rows, BudgetConfig(team_usd=D("10")), "alice", D("2.0916"), NOW)
    assert fits.allowed and fits.headline == "fits the team cap"
    assert fits.detail.endswith("= $6.90 of $10.00, $3.10 left.")
    both = budget.check(rows, BudgetConfig(team_usd=D("10"), default_owner_usd=D("1")),
                        "alice", D("2.0916"), NOW)
    assert both.headline == "would cross your cap by $1.09"  # alice spent 0: 2.0916 − 1
    assert budget.check(rows, BudgetConfig(), "alice", D("2"), NOW).headline == ""


@pytest.mark.parametrize(("spent", "amount", "allowed", "warn"), [
    ("0", "1", True, False),
    ("7", "0.99", True, False),   # 79.9 % after
    ("7", "1", True, True),       # exactly 80 % after
    ("8.5", "0", True, True),     # 85 % before
    ("8", "2", True, True),       # exactly the cap is allowed
    ("8", "2.0001", False, True),
    ("11", "0", False, True),     # already over: even a free request is refused
])
def test_cap_and_warning_thresholds(spent, amount, allowed, warn):
    """Refused only past the cap; warned from 80 % before or after the request."""
    config = BudgetConfig(team_usd=D("10"))
    rows = [job(charge=spent)] if D(spent) else []
    verdict = budget.check(rows, config, "alice", D(amount), NOW)
    assert (verdict.allowed, verdict.warn) == (allowed, warn)


def test_owner_caps_default_override_and_uncapped_owner():
    """Owners get the default cap unless saved per fingerprint (None lifts it)."""
    config = BudgetConfig(default_owner_usd=D("1"), owner_usd={"bob": D("5"), "carol": None})
    rows = [job(charge="0.90", owner=o) for o in ("alice", "bob", "carol")]
    alice = budget.check(rows, config, "alice", D("0.20"), NOW)
    assert not alice.allowed and alice.message.startswith("Refused: your budget for November")
    assert budget.check(rows, config, "bob", D("0.20"), NOW).allowed
    carol = budget.check(rows, config, "carol", D("100"), NOW)
    assert carol.allowed and not carol.lines and carol.message == ""


def test_both_caps_refused_are_both_explained():
    """When the team and the owner cap are both crossed the sentence names both."""
    config = BudgetConfig(team_usd=D("10"), default_owner_usd=D("2"))
    verdict = budget.check([job(charge="9", owner="alice")], config, "alice", D("2"), NOW)
    assert "team budget" in verdict.message and "Also: your budget" in verdict.message


def test_status_for_the_banner():
    """Spent, cap, fraction and a sentence; the warning from 80 %."""
    config = BudgetConfig(team_usd=D("10"))
    status = budget.status([job(charge="8.50"), job("queued", quote="0.25")], config, "x", NOW)
    assert status.warn and status.worst is not None
    assert status.worst.spent.total == D("8.75") and status.worst.cap == D("10")
    assert status.worst.fraction == pytest.approx(0.875)
    assert status.message == ("Team budget for November 2026: $8.75 of $10.00 spent (88%), "
                              "resets 1 December (UTC).")
    quiet = budget.status([job(charge="1")], config, "x", NOW)
    assert not quiet.warn
    assert budget.status([], BudgetConfig(), "x", NOW).message == ""


@pytest.mark.parametrize(("value", "expected"), [
    ("1000000000", D("1000000000")), ("1e3", D("1000")), (D("1E+2"), D("100")),
    ("$12.50", D("12.50")), (5.5, D("5.5")), (0, D("0")), ("-0", D("0")), ("12.340", D("12.340")),
])
def test_parse_usd_accepts_caps_up_to_a_billion_in_cents(value, expected):
    amount, problem = budget.parse_usd(value, "team budget")
    assert problem is None and amount == expected
    assert "E" not in str(amount)  # saved as plain digits


@pytest.mark.parametrize(("value", "says"), [
    ("1e24", "at most $1,000,000,000.00"), ("1e30", "at most $1,000,000,000.00"),
    (1e30, "at most $1,000,000,000.00"), ("1000000000.01", "at most $1,000,000,000.00"),
    ("12.345", "at most 2 decimal places"), ("1e-9", "at most 2 decimal places"),
    ("NaN", "such as 25 or 12.50"), ("sNaN", "such as 25 or 12.50"),
    ("inf", "such as 25 or 12.50"), (float("inf"), "such as 25 or 12.50"),
    (D("-Infinity"), "such as 25 or 12.50"), ("-1", "zero or more"), (True, "such as 25"),
    ([25], "such as 25"), pytest.param(10 ** 5000, "such as 25", id="int-of-5000-digits"),
    ("lots", "such as 25"),
])
def test_parse_usd_refuses_what_is_not_a_cap(value, says):
    """Huge (1e24 would crash every page's banner), NaN, infinite, negative, sub-cent."""
    amount, problem = budget.parse_usd(value, "team budget")
    assert amount is None and problem.startswith("team budget: ") and says in problem


def test_a_huge_cap_is_refused_on_save_and_never_crashes_the_banner(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    with pytest.raises(ParamError, match=r"at most \$1,000,000,000\.00"):
        BudgetStore(store).save(period="month", team_usd="1e24")
    assert store.budgets.read() is None
    # caps handed over directly (e.g. STUDIO_BUDGET_TEAM_USD=1e30) still make sentences
    config = BudgetConfig(team_usd=D("1e30"), default_owner_usd=D("1e24"))
    assert "more than $1,000,000,000,000,000" in budget.status([job(charge="1")], config,
                                                               "alice", NOW).message
    verdict = budget.check([], config, "alice", D("1e30"), NOW)  # over the owner's 1e24
    assert not verdict.allowed and "E+" not in verdict.message
    assert "more than $1,000,000,000,000,000" in verdict.message


# -- saved caps ---------------------------------------------------------------------------
def test_saved_caps_win_over_settings_and_round_trip(tmp_path):
    """Settings apply until a budget is saved; saved caps come back exactly from the store
    (and from a second store object on the same database: another app process)."""
    settings = Settings(data_dir=tmp_path, budget_team_usd=D("50"), budget_period="week")
    store = BudgetStore(JobStore(tmp_path / "jobs.sqlite3"))
    assert store.load(settings) == BudgetConfig(period="week", team_usd=D("50"))
    saved = store.save(period="day", team_usd="20", default_owner_usd="",
                       owner_usd={"abc123": "5.5", "def456": None}, who="Ada")
    assert saved == store.load(settings)
    assert saved.source == "saved" and saved.team_usd == D("20")
    assert saved.default_owner_usd is None and saved.owner_cap("abc123") == D("5.5")
    assert saved.owner_cap("def456") is None and "def456" in saved.owner_usd
    other = BudgetStore(JobStore(tmp_path / "jobs.sqlite3"))
    assert other.load(settings) == saved
    assert other.store.budgets.read()["saved_by"] == "Ada"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("jobs.")) == []
    store.clear()
    assert other.load(settings).team_usd == D("50")


def test_saving_lists_every_problem(tmp_path):
    """Negative, non-numeric and infinite amounts and an unknown period, all at once."""
    store = JobStore(tmp_path / "jobs.sqlite3")
    with pytest.raises(ParamError) as err:
        BudgetStore(store).save(period="year", team_usd="-1", default_owner_usd="lots",
                                owner_usd={"abc": "Infinity"})
    assert len(err.value.problems) == 4
    assert store.budgets.read() is None


@pytest.mark.parametrize("content", [
    '{"period": "month", "team_usd": "1e24"}',       # saved before caps were bounded
    '{"period": "month", "team_usd": "1e30", "owner_usd": {}}',
    '{"period": "month", "team_usd": 1e400}',         # JSON reads it as infinity
    '{"period": "month", "team_usd": "NaN"}',
    '{"period": "month", "team_usd": NaN}',
    '{"period": "month", "team_usd": "12.345"}',
    '{"period": "month", "team_usd": {"usd": 5}}',
    pytest.param('{"period": "month", "team_usd": ' + "9" * 5000 + "}",
                 id="int-of-5000-digits"),  # past Python's int-from-text limit
    '{"period": ["month"]}',
    '{"period": {"kind": "month"}}',
    '{"period": "month", "owner_usd": ["abc"]}',
    '{"period": "month", "owner_usd": "abc"}',
    '{"period": "month", "owner_usd": {"abc": "1e30"}}',
    '{"period": "month", "owner_usd": {"": "5"}}',
    "[1, 2]",
    '"month"',
    pytest.param("[" * 100_000 + "]" * 100_000, id="deep-nesting"),  # past the parser's depth
    "",
])
def test_any_unusable_budget_file_of_the_first_release_is_the_config_error_sentence(
        tmp_path, content):
    """Whatever an old budget.json holds, opening the store either imports caps or leaves
    the file in place and every budget check refuses with a sentence naming it."""
    (tmp_path / "budget.json").write_text(content)
    store = JobStore.from_settings(tmp_path)
    with pytest.raises(ConfigError, match=r"budget\.json from an earlier version cannot be "
                                          r"imported .*Fix or delete the file"):
        BudgetStore(store).load(Settings(data_dir=tmp_path))
    assert (tmp_path / "budget.json").read_text() == content  # kept for a person to fix
    assert store.budgets.read() is None


def test_damaged_budget_file_refuses_rather_than_dropping_the_caps(tmp_path):
    """A file someone saved but that cannot be read stops submits with a sentence."""
    (tmp_path / "budget.json").write_text("{not json")
    store = JobStore.from_settings(tmp_path)
    with pytest.raises(ConfigError, match="budget.json"):
        BudgetStore(store).load(Settings(data_dir=tmp_path))


# -- the guard in Studio.submit, against a real sandbox -----------------------------------
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("sbx-budget"), port=None, workers=2)
    yield sb.url
    sb.stop()


def make_studio(tmp_path, sandbox, **env: str) -> Studio:
    settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox, "LTX_BASE_URL": sandbox,
                                      "STUDIO_DATA_DIR": str(tmp_path), **env})
    return Studio(settings, JobStore(tmp_path / "jobs.sqlite3"), sandbox_url=sandbox)


def sandbox_traffic(url: str) -> dict:
    return requests.get(f"{url}/_sandbox/stats", timeout=10).json()["routes"]


def test_over_budget_submit_is_refused_then_sent_after_raising_the_cap(tmp_path, sandbox,
                                                                        cockatoo):
    """$10 team cap, $8.50 charged this month: a $2.0916 submit stores, uploads and sends
    nothing; with the cap raised to $20 the same request is queued."""
    studio = make_studio(tmp_path, sandbox, STUDIO_BUDGET_TEAM_USD="10")
    seeded = studio.store.insert(job(charge="8.50", owner="someone-else",
                                     created_at=datetime.now(UTC)))
    prepared = studio.prepare(STARLIGHT, Source("sample", "c.mp4", path=cockatoo),
                              {"resolution": "4k"})
    assert prepared.quote.amount_usd == D("2.0916")
    before = sandbox_traffic(sandbox)
    with pytest.raises(BudgetExceededError) as err:
        studio.submit(prepared)
    message = str(err.value)
    for figure in ("$10.00", "$8.50", "$2.09", "$10.59", "$0.59 over"):
        assert figure in message
    assert not err.value.verdict.allowed
    assert studio.store.list() == [seeded]
    assert sandbox_traffic(sandbox) == before  # no upload, no paid POST
    assert studio.budget_status().warn  # 85 % of the team cap

    studio.budget_store().save(period="month", team_usd="20")
    [sent] = studio.submit(prepared)
    assert sent.status == "queued" and sent.remote_id
    studio.cancel(sent)  # spare the sandbox a 4K render


def test_confirmation_above_five_dollars_by_default(tmp_path, sandbox, cockatoo):
    """3 × $2.0916 = $6.2748 > $5: refused until confirmed, then sent as one request."""
    studio = make_studio(tmp_path, sandbox)
    assert studio.settings.confirm_above_usd == D("5")
    prepared = studio.prepare(STARLIGHT, Source("sample", "c.mp4", path=cockatoo), {})
    before = sandbox_traffic(sandbox)
    with pytest.raises(ConfirmationRequired) as err:
        studio.submit(prepared, num_generations=3)
    assert (err.value.total_usd, err.value.threshold_usd) == (D("6.2748"), D("5"))
    assert "$6.27" in str(err.value) and "$5.00" in str(err.value)
    assert studio.store.list() == [] and sandbox_traffic(sandbox) == before
    # One generation ($2.0916) needs no confirmation; three confirmed are sent.
    jobs = studio.submit(prepared, num_generations=3, confirmed=True)
    assert [j.status for j in jobs] == ["queued"] * 3
    for j in jobs:
        studio.cancel(j)


def test_budget_is_checked_before_confirmation(tmp_path, sandbox, cockatoo):
    """A request over budget is refused outright, not offered for confirmation."""
    studio = make_studio(tmp_path, sandbox, STUDIO_BUDGET_OWNER_USD="1")
    prepared = studio.prepare(STARLIGHT, Source("sample", "c.mp4", path=cockatoo), {})
    with pytest.raises(BudgetExceededError, match="your budget"):
        studio.submit(prepared, num_generations=3, confirmed=False)
    assert studio.store.list() == []


def test_check_submit_runs_the_guard_without_sending(tmp_path, sandbox, cockatoo):
    """The page's pre-flight: same errors as submit, a verdict to show, nothing sent."""
    studio = make_studio(tmp_path, sandbox, STUDIO_BUDGET_TEAM_USD="10")
    prepared = studio.prepare(STARLIGHT, Source("sample", "c.mp4", path=cockatoo), {})
    before = sandbox_traffic(sandbox)
    verdict = studio.check_submit(prepared, num_generations=4, confirmed=True)  # $8.3664
    assert verdict.allowed and verdict.warn and "$8.37" in verdict.message
    with pytest.raises(ConfirmationRequired):
        studio.check_submit(prepared, num_generations=3)
    with pytest.raises(ParamError, match="between 1 and 4"):
        studio.check_submit(prepared, num_generations=5, confirmed=True)
    studio.store.insert(job(charge="2.00", created_at=datetime.now(UTC)))
    with pytest.raises(BudgetExceededError, match=r"\$10\.37"):
        studio.check_submit(prepared, num_generations=4, confirmed=True)
    assert len(studio.store.list()) == 1 and sandbox_traffic(sandbox) == before


@pytest.mark.parametrize("env, problem", [
    ({"STUDIO_BUDGET_TEAM_USD": "1e30"}, "STUDIO_BUDGET_TEAM_USD must be an amount in USD"),
    ({"STUDIO_BUDGET_OWNER_USD": "-1"}, "STUDIO_BUDGET_OWNER_USD must be an amount in USD"),
    ({"STUDIO_CONFIRM_ABOVE_USD": "five"}, "STUDIO_CONFIRM_ABOVE_USD must be an amount"),
    ({"STUDIO_BUDGET_PERIOD": "year"}, "STUDIO_BUDGET_PERIOD must be one of day, week, month"),
])
def test_budget_settings_from_the_environment_are_checked(env, problem):
    from studio.config import Settings
    from studio.errors import ConfigError

    with pytest.raises(ConfigError, match=problem):
        Settings.from_mapping(env)


def test_budget_settings_defaults_and_values():
    from studio.config import Settings

    s = Settings.from_mapping({})
    assert (s.budget_period, s.budget_team_usd, s.budget_owner_usd, s.confirm_above_usd) == (
        "month", None, None, Decimal("5"))
    s = Settings.from_mapping({"STUDIO_BUDGET_TEAM_USD": "10", "STUDIO_CONFIRM_ABOVE_USD": "0",
                               "STUDIO_BUDGET_PERIOD": "Week"})
    assert (s.budget_period, s.budget_team_usd, s.confirm_above_usd) == (
        "week", Decimal("10"), Decimal("0"))
