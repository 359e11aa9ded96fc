"""Rate book: provenance on every rate, staleness, team overrides with audit, live cache."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from studio import pricing
from studio.errors import ConfigError, NetworkError, ParamError, ServerError
from studio.media import ClipInfo
from studio.models import MODELS
from studio.ratebook import (
    PROVENANCES,
    LivePricingCache,
    OverrideStore,
    Rate,
    RateBook,
    bundled_rates,
    load_book,
    stale,
)
from studio.store import JobStore
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT

T0 = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def clip(seconds=10.0, w=1280, h=720, fps=24.0):
    return ClipInfo(duration_s=seconds, width=w, height=h, fps=fps, frame_count=round(seconds * fps),
                    codec="h264", pix_fmt="yuv420p", color_transfer=None)


def rate(as_of="2026-05-12", usd="0.1", provenance="published"):
    return Rate(STARLIGHT, "4k", "output_second", Decimal(usd), provenance, "https://x", as_of)


# -- provenance: no rate without a source -----------------------------------------------------

def test_every_bundled_rate_has_a_full_source_entry():
    for r in bundled_rates():
        assert r.provenance in ("published", "proxy"), r
        assert r.source_url.startswith("https://"), r
        assert date.fromisoformat(r.as_of), r
        assert r.confidence.strip() and r.derivation.strip(), r
        assert r.unit in ("output_second", "input_second", "output_megapixel", "factor"), r
        assert r.usd > 0, r


def test_rhea_interpolation_factor_is_a_labelled_proxy_assumption():
    (factor,) = [r for r in bundled_rates() if r.unit == "factor"]
    assert (factor.model_id, factor.tier, factor.usd, factor.provenance) == (
        RHEA, "interpolate_frames", Decimal(2), "proxy")
    assert "topazlabs-rhea-video" in factor.source_url
    assert "assumption" in factor.confidence.lower() and "more expensive" in factor.confidence
    assert "per output frame" in factor.derivation and "doubles" in factor.derivation
    assert factor.label.startswith("×2 (interpolate_frames) · proxy")


def _settings(model_id):
    """Every combination of the model's enum and boolean parameters."""
    spec = MODELS[model_id]
    choices = {p.name: list(p.enum) + ([None] if p.default is None else [])
               for p in spec.form_params if p.enum}
    choices.update({p.name: [False, True] for p in spec.form_params if p.type == "boolean"})
    names = sorted(choices)
    for combo in itertools.product(*(choices[n] for n in names)):
        yield dict(zip(names, combo, strict=True))


SIZES = [(640, 360), (1280, 720), (1280, 721), (1920, 1080), (1920, 1082), (1080, 1920),
         (2560, 1440), (2560, 1442), (3840, 2160)]


@pytest.mark.parametrize("model_id", list(MODELS))
def test_every_quote_for_every_setting_uses_a_sourced_rate(model_id):
    sourced = set(bundled_rates())
    n = 0
    for params, (w, h) in itertools.product(_settings(model_id), SIZES):
        if model_id == LTX_OXEN:
            params = {**params, "prompt": "x"}
        q = pricing.quote(model_id, clip(5.0, w, h), params)
        for r in (q.rate, *q.surcharges):
            assert r in sourced, (params, r)
            assert r.source_url and r.as_of and r.confidence and r.provenance in PROVENANCES
        assert q.amount_usd > 0
        n += 1
    assert n >= len(SIZES)


def test_live_rates_carry_a_source():
    live = {"cost_per_second": 0.05, "cost_per_second_by_resolution": {"4k": 0.25}}
    for tier in ("1080p", "2k", "4k"):
        r = pricing.rate_for(STARLIGHT, tier, live_pricing=live)
        assert r.provenance == "live" and r.as_of == "live" and r.source_url and r.confidence


# -- staleness ------------------------------------------------------------------------------------

@pytest.mark.parametrize("as_of, today, max_age, expected", [
    ("2026-05-12", date(2026, 11, 8), 180, False),   # exactly 180 days old
    ("2026-05-12", date(2026, 11, 9), 180, True),    # 181 days
    ("2026-11-20", date(2026, 11, 21), 0, True),
    ("2026-11-21", date(2026, 11, 21), 0, False),
    ("live", date(2099, 1, 1), 0, False),
    ("n/d", date(2026, 11, 21), 180, True),          # unknown age counts as stale
])
def test_stale(as_of, today, max_age, expected):
    assert stale(rate(as_of), today, max_age) is expected


# -- team overrides -------------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path: Path) -> JobStore:
    s = JobStore(tmp_path / "jobs.sqlite3")
    yield s
    s.close()


@pytest.fixture
def store(db: JobStore) -> OverrideStore:
    return OverrideStore(db)


def test_set_load_and_audit(store, tmp_path):
    r = store.set(STARLIGHT, "4k", "0.20", reason="Oxen invoice Nov 2026", who="ana", now=T0)
    assert (r.usd, r.provenance, r.unit, r.as_of) == (Decimal("0.2"), "override",
                                                      "output_second", "2026-11-21")
    assert r.source_url == "team override by ana on 2026-11-21: Oxen invoice Nov 2026"
    assert store.load() == [r]
    r2 = store.set(STARLIGHT, "4k", Decimal("0.18"), reason="renegotiated", who="bo",
                   now=T0 + timedelta(days=1))
    store.set(LTX_DIRECT, "1440p", "0.35", reason="quote from LTX", who="ana",
              now=T0 + timedelta(days=2))
    assert {x.usd for x in store.load()} == {Decimal("0.18"), Decimal("0.35")}
    assert r2 in store.load()
    store.remove(STARLIGHT, "4k", reason="back to live", who="cy", now=T0 + timedelta(days=3))
    assert [(x.model_id, x.tier) for x in store.load()] == [(LTX_DIRECT, "1440p")]

    trail = store.audit()
    # The first override of a tier records the rate it replaced (the bundled published
    # $0.1494 for Starlight 4k, $0.40 for LTX 1440p: pricing.md), not a blank.
    assert [(e.who, e.action, e.old_usd, e.old_provenance, e.new_usd) for e in trail] == [
        ("cy", "removed", Decimal("0.18"), "override", None),
        ("ana", "added", Decimal("0.4"), "published", Decimal("0.35")),
        ("bo", "changed", Decimal("0.2"), "override", Decimal("0.18")),
        ("ana", "added", Decimal("0.1494"), "published", Decimal("0.2")),
    ]
    assert trail[0].when == T0 + timedelta(days=3) and trail[0].when.tzinfo is UTC
    # Another app process on the same database quotes from the same overrides at once.
    other = OverrideStore(JobStore(tmp_path / "jobs.sqlite3"))
    assert other.load() == store.load() and other.audit() == trail


def test_a_first_override_over_a_live_rate_records_the_live_rate(db):
    live = {STARLIGHT: {"cost_per_second": 0.05, "cost_per_second_high_res": 0.16}}
    OverrideStore(db, live=live).set(STARLIGHT, "4k", "0.2", reason="x", who="a", now=T0)
    [entry] = OverrideStore(db).audit()
    assert (entry.old_usd, entry.old_provenance, entry.action) == (Decimal("0.16"), "live",
                                                                   "added")


def test_the_audit_trail_is_append_only_in_the_database(store, db):
    import sqlalchemy as sa

    store.set(STARLIGHT, "4k", "0.2", reason="x", who="a", now=T0)
    for sql in ("UPDATE rate_audit SET reason = 'edited'", "DELETE FROM rate_audit"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db._write() as conn:
                conn.exec_driver_sql(sql)
    assert [e.reason for e in store.audit()] == ["x"]


def test_now_is_recorded_in_utc(store):
    berlin = timezone(timedelta(hours=1))
    r = store.set(HYPERION, "720p", "0.01", reason="x", who="a",
                  now=datetime(2026, 11, 22, 0, 30, tzinfo=berlin))
    assert r.as_of == "2026-11-21"
    assert store.audit()[0].when == datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        store.set(HYPERION, "720p", "0.01", reason="x", who="a", now=datetime(2026, 11, 22))


def test_amounts_are_stored_without_exponents(store, db):
    assert store.set(STARLIGHT, "4k", "100", reason="x", who="a").usd == Decimal("100")
    store.set(STARLIGHT, "2k", "0.0000001", reason="x", who="a")
    assert sorted(format(r.usd, "f") for r in store.load()) == ["0.0000001", "100"]
    assert [format(r["usd"], "f") for r in db.overrides.records()] == ["100", "0.0000001"]


@pytest.mark.parametrize("model_id, tier, usd, reason, expected", [
    ("nope", "4k", "0.1", "r", ["model: unknown model 'nope'"]),
    (STARLIGHT, "720p", "0.1", "r", ["tier: '720p' is not a rate tier of"]),
    (STARLIGHT, "4k", "abc", "r", ["usd: must be a number"]),
    (STARLIGHT, "4k", "NaN", "r", ["usd: must be a number"]),
    (STARLIGHT, "4k", True, "r", ["usd: must be a number"]),
    (STARLIGHT, "4k", "0", "r", ["usd: must be more than 0"]),
    (STARLIGHT, "4k", "-0.1", "r", ["usd: must be more than 0"]),
    (STARLIGHT, "4k", "1000.01", "r", ["usd: must be at most 1000"]),
    (STARLIGHT, "4k", "0.12345678", "r", ["usd: at most 7 decimal places"]),
    (STARLIGHT, "4k", "0.1", "  ", ["reason: say why"]),
    ("nope", "4k", "x", "", ["model:", "usd:", "reason:"]),  # every problem at once
])
def test_set_validation(store, db, model_id, tier, usd, reason, expected):
    with pytest.raises(ParamError) as err:
        store.set(model_id, tier, usd, reason=reason, who="ana")
    assert len(err.value.problems) == len(expected)
    for problem, start in zip(err.value.problems, expected, strict=True):
        assert problem.startswith(start), problem
    assert db.overrides.records() == [] and db.overrides.audit() == []


@pytest.mark.parametrize("usd", ["1000", "0.0000001", "1E+2", Decimal("0.1494"), 2])
def test_set_accepts_boundary_amounts(store, usd):
    assert store.set(STARLIGHT, "4k", usd, reason="r", who="a").usd == Decimal(str(usd))
    assert store.load()[0].usd == Decimal(str(usd))


def test_empty_who_is_rejected(store):
    with pytest.raises(ParamError, match="who"):
        store.set(STARLIGHT, "4k", "0.1", reason="r", who=" ")


def test_remove_needs_an_existing_override_and_a_reason(store):
    with pytest.raises(ParamError, match="no team override"):
        store.remove(STARLIGHT, "4k", reason="r", who="a")
    store.set(STARLIGHT, "4k", "0.2", reason="x", who="a", now=T0)
    with pytest.raises(ParamError, match="reason"):
        store.remove(STARLIGHT, "4k", reason="", who="a")
    assert len(store.load()) == 1 and len(store.audit()) == 1


@pytest.mark.parametrize("content, why", [
    ("{not json", "not JSON"),
    ('["a"]', '"overrides" list'),
    ('{"overrides": [1]}', "override 1 is not an object"),
    ('{"overrides": [{"model_id": "m"}]}', "override 1 lacks"),
    ('{"overrides": [{"model_id": "m", "tier": "t", "unit": "u", "usd": "x", "who": "w",'
     ' "when": "2026-11-21T00:00:00+00:00", "reason": "r"}]}', "bad amount"),
    ('{"overrides": [{"model_id": "m", "tier": "t", "unit": "u", "usd": "1", "who": "w",'
     ' "when": "2026-11-21T00:00:00", "reason": "r"}]}', "time without a zone"),
])
def test_a_damaged_overrides_file_of_the_first_release_stops_quotes_naming_it(
        tmp_path, content, why):
    """An overrides.json that cannot be imported is left in place, and no quote uses team
    overrides until it is fixed (as the first release refused a damaged file)."""
    rates = tmp_path / "rates"
    rates.mkdir()
    (rates / "overrides.json").write_text(content, "utf-8")
    db = JobStore.from_settings(tmp_path)
    store = OverrideStore(db)
    with pytest.raises(ConfigError) as err:
        store.load()
    # Named within the data folder, never by its server path (issue 10 item 17).
    assert "rates/overrides.json" in str(err.value) and why in str(err.value)
    assert str(tmp_path) not in str(err.value)
    with pytest.raises(ConfigError):  # a write never goes past what could not be read
        store.set(STARLIGHT, "4k", "0.2", reason="x", who="a")
    assert (rates / "overrides.json").read_text("utf-8") == content
    with pytest.raises(ConfigError, match="overrides.json"):
        load_book(db)


def test_a_damaged_audit_line_of_the_first_release_is_named(tmp_path):
    rates = tmp_path / "rates"
    rates.mkdir()
    (rates / "audit.jsonl").write_text(
        '{"who": "a", "when": "2026-11-21T00:00:00+00:00", "model_id": "m", "tier": "t", '
        '"old_usd": null, "new_usd": "1", "reason": "r"}\n{"who": "half a li', "utf-8")
    with pytest.raises(ConfigError, match=r"audit.jsonl .*line 2 cannot be read"):
        OverrideStore(JobStore.from_settings(tmp_path)).audit()


def test_concurrent_sets_on_two_stores_lose_nothing(tmp_path):
    """Eight tiers set at once from two store objects (two app processes): every override
    and every audit line is kept."""
    tiers = [(STARLIGHT, "1080p"), (STARLIGHT, "2k"), (STARLIGHT, "4k"), (RHEA, "720p"),
             (RHEA, "1080p"), (HYPERION, "4k"), (LTX_DIRECT, "1080p"), (LTX_OXEN, "any")]
    dbs = [JobStore(tmp_path / "jobs.sqlite3") for _ in range(2)]

    def work(i, model_id, tier):
        OverrideStore(dbs[i % 2]).set(model_id, tier, "0.5", reason="r", who="t")

    threads = [threading.Thread(target=work, args=(i, *mt)) for i, mt in enumerate(tiers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = OverrideStore(dbs[0])
    assert len(store.load()) == len(tiers) and len(store.audit()) == len(tiers)


# -- the book -------------------------------------------------------------------------------------

LIVE = {STARLIGHT: {"method": "per_video_output_second", "cost_per_second": 0.05,
                    "cost_per_second_high_res": 0.1494}}


def test_precedence_override_then_live_then_bundled(store):
    store.set(STARLIGHT, "1080p", "0.04", reason="contract", who="ana", now=T0)
    book = load_book(store.store, live=LIVE)
    assert book.rate_for(STARLIGHT, "1080p").provenance == "override"
    assert book.rate_for(STARLIGHT, "4k").provenance == "live"
    assert book.rate_for(RHEA, "4k").provenance == "proxy"
    assert book.rate_for(LTX_DIRECT, "1440p").provenance == "published"
    with pytest.raises(KeyError):
        book.rate_for(LTX_DIRECT, "8k")
    with pytest.raises(KeyError):
        book.rate_for("nope", "4k")


def test_live_applies_to_oxen_per_second_rates_only():
    any_live = {"cost_per_second": 9.0, "cost_per_second_high_res": 9.0}
    book = RateBook(bundled_rates(), live={RHEA: any_live, LTX_DIRECT: any_live})
    assert book.rate_for(RHEA, "4k").provenance == "live"
    assert book.rate_for(RHEA, "interpolate_frames").provenance == "proxy"  # a factor
    assert book.rate_for(LTX_DIRECT, "4k").provenance == "published"       # not an Oxen model
    empty = RateBook(bundled_rates(), live={LTX_OXEN: pricing.oxen_pricing_object(LTX_OXEN)})
    assert empty.rate_for(LTX_OXEN, "any").unit == "output_megapixel"


def test_quote_uses_the_book(store):
    c = clip(14.0)
    store.set(STARLIGHT, "4k", "0.2", reason="contract", who="ana", now=T0)
    store.set(RHEA, "interpolate_frames", "1.5", reason="measured on invoices", who="bo", now=T0)
    book = load_book(store.store)
    q = pricing.quote(STARLIGHT, c, {"resolution": "4k"}, book=book)
    assert q.amount_usd == Decimal("2.8000") and q.provenance == "override"
    assert q.to_json()["source_url"].startswith("team override by ana")
    q = pricing.quote(RHEA, c, {"resolution": "4k", "interpolate_frames": True}, book=book)
    assert q.amount_usd == Decimal("1.0570")  # 14 × 0.0503333 × 1.5 = 1.05699930
    assert q.surcharges[0].provenance == "override" and "override interpolation" in q.basis
    # An explicit live object still loses to the override, beats bundled.
    live = {"cost_per_second": 0.05, "cost_per_second_high_res": 0.3}
    assert pricing.quote(STARLIGHT, c, {"resolution": "4k"}, book=book,
                         live_pricing=live).provenance == "override"
    assert pricing.quote(STARLIGHT, c, {"resolution": "1080p"}, book=book,
                         live_pricing=live).amount_usd == Decimal("0.7000")
    # Without a book: bundled only.
    assert pricing.quote(STARLIGHT, c, {"resolution": "4k"}).amount_usd == Decimal("2.0916")


def test_entries_for_the_rates_view(store):
    store.set(STARLIGHT, "1080p", "0.04", reason="contract", who="ana", now=T0)
    book = load_book(store.store, live=LIVE)
    entries = book.entries(today=date(2026, 11, 21), max_age_days=180)
    keys = [(e.model_id, e.tier) for e in entries]
    assert keys == [(r.model_id, r.tier) for r in bundled_rates()]
    by = {(e.model_id, e.tier): e for e in entries}
    e = by[(STARLIGHT, "1080p")]
    assert e.effective is e.override and e.override.usd == Decimal("0.04")
    assert e.live.usd == Decimal("0.05") and e.live_differs and e.bundled.usd == Decimal("0.0374")
    assert not e.stale
    e = by[(STARLIGHT, "4k")]
    assert e.effective is e.live and not e.live_differs and e.override is None and not e.stale
    e = by[(LTX_DIRECT, "1440p")]  # as of 2026-07-19, 125 days
    assert e.live is None and not e.live_differs and not e.stale
    strict = {(x.model_id, x.tier): x for x in book.entries(today=date(2026, 11, 21),
                                                            max_age_days=100)}
    assert strict[(LTX_DIRECT, "1440p")].stale and not strict[(STARLIGHT, "4k")].stale
    e = by[(RHEA, "interpolate_frames")]
    assert e.unit == "factor" and e.effective.provenance == "proxy"


def test_load_book_without_overrides(db):
    book = load_book(db)
    assert book.overrides == () and book.rate_for(STARLIGHT, "4k").provenance == "published"


def test_pricing_rate_for_stays_compatible():
    assert pricing.rate_for(LTX_OXEN, "whatever").tier == "any"
    assert pricing.rate_for(STARLIGHT, "4k").usd == Decimal("0.1494")
    assert pricing.Rate is Rate and pricing.bundled_rates is bundled_rates


# -- live pricing cache ---------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class FakeFetch:
    def __init__(self):
        self.calls: list[str] = []
        self.answers: list[object] = []

    def __call__(self, model_id):
        self.calls.append(model_id)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def live():
    fetch, clock = FakeFetch(), FakeClock()
    cache = LivePricingCache(fetch, ttl_s=600, clock=clock, now=lambda: T0, retry_s=30)
    return cache, fetch, clock


def test_cache_reuses_within_ttl_and_refetches_after(live):
    cache, fetch, clock = live
    fetch.answers = [{"cost_per_second": 0.05}, {"cost_per_second": 0.06}]
    lp = cache.get(STARLIGHT)
    assert lp.pricing["cost_per_second"] == 0.05 and lp.fetched_at == T0 and lp.age_s == 0
    clock.t += 599
    lp = cache.get(STARLIGHT)
    assert lp.age_s == 599 and len(fetch.calls) == 1
    clock.t += 1
    assert cache.get(STARLIGHT).pricing["cost_per_second"] == 0.06 and len(fetch.calls) == 2
    assert cache.last_error(STARLIGHT) is None


def test_cache_keeps_last_good_value_on_error(live):
    cache, fetch, clock = live
    fetch.answers = [{"cost_per_second": 0.05},
                     ServerError("Oxen answered 503; try again later.", status=503),
                     {"cost_per_second": 0.07}]
    cache.get(STARLIGHT)
    clock.t += 700
    lp = cache.get(STARLIGHT)
    assert lp.pricing["cost_per_second"] == 0.05 and lp.age_s == 700
    assert lp.last_error == cache.last_error(STARLIGHT)
    assert lp.last_error.startswith(f"Live pricing for {STARLIGHT} could not be refreshed")
    assert "503" in lp.last_error
    clock.t += 10  # within retry_s: no new fetch
    assert cache.get(STARLIGHT).age_s == 710 and len(fetch.calls) == 2
    clock.t += 30
    lp = cache.get(STARLIGHT)
    assert lp.pricing["cost_per_second"] == 0.07 and lp.last_error is None and len(fetch.calls) == 3


def test_cache_first_fetch_error_returns_none(live):
    cache, fetch, _ = live
    fetch.answers = [NetworkError("Oxen did not answer.", maybe_sent=False)]
    assert cache.get(RHEA) is None
    assert "Oxen did not answer." in cache.last_error(RHEA)


def test_cache_no_pricing_object_is_cached_as_none(live):
    cache, fetch, clock = live
    fetch.answers = [None, "not an object", {"cost_per_second": 0.01}]
    assert cache.get(LTX_OXEN) is None and cache.last_error(LTX_OXEN) is None
    assert cache.get(LTX_OXEN) is None and len(fetch.calls) == 1
    clock.t += 600
    assert cache.get(LTX_OXEN) is None and "not an object" in cache.last_error(LTX_OXEN)
    clock.t += 30
    assert cache.get(LTX_OXEN).pricing == {"cost_per_second": 0.01}
    assert cache.pricing_map([LTX_OXEN]) == {LTX_OXEN: {"cost_per_second": 0.01}}


def test_cache_pricing_is_read_only_and_bugs_propagate(live):
    cache, fetch, _ = live
    source = {"cost_per_second": 0.05}
    fetch.answers = [source, RuntimeError("bug")]
    lp = cache.get(STARLIGHT)
    source["cost_per_second"] = 9
    assert lp.pricing["cost_per_second"] == 0.05
    with pytest.raises(TypeError):
        lp.pricing["cost_per_second"] = 1  # type: ignore[index]
    cache.clear()
    with pytest.raises(RuntimeError):
        cache.get(STARLIGHT)


def test_cache_is_thread_safe_one_fetch_per_model():
    calls: list[str] = []
    gate = threading.Event()

    def slow_fetch(model_id):
        calls.append(model_id)
        gate.wait(2)
        return {"cost_per_second": 0.05}

    cache = LivePricingCache(slow_fetch, ttl_s=600)
    results: list[object] = []
    threads = [threading.Thread(target=lambda m=m: results.append(cache.get(m)))
               for m in [STARLIGHT] * 6 + [RHEA] * 2]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join()
    assert sorted(calls) == [RHEA, STARLIGHT]
    assert all(r is not None for r in results) and len(results) == 8
    fetched = cache.get(STARLIGHT)
    assert fetched.fetched_at.tzinfo is not None


def test_cache_feeds_a_book(live):
    cache, fetch, _ = live
    fetch.answers = [{"cost_per_second": 0.05, "cost_per_second_high_res": 0.2}]
    book = RateBook(bundled_rates(), live=cache.pricing_map([STARLIGHT]))
    q = pricing.quote(STARLIGHT, clip(14.0), {"resolution": "2k"}, book=book)
    assert q.amount_usd == Decimal("2.8000") and q.provenance == "live"
    assert STARLIGHT in book.live
