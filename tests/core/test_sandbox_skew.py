"""``python -m sandbox --price-skew 0.05``: real sandbox generations show a 5 % quote error in
the client's ledger (issue 11 §3 acceptance), computed by :mod:`studio.ledger` from what the
tracker recorded — the client's quote against Oxen's reported ``cost``.

Expected figures are worked by hand from shared/api/pricing.md for realshort.mp4 (36 frames,
1.1992 s, 320×240; at target_fps 30 the upscalers make 36 frames = 1.2 output s):

* Rhea 1080p: list 1.2 × $0.0126667 = $0.01520004 → quote $0.0152; charge 0.01520004 ÷ 0.95
  = $0.0160; error (0.0160 − 0.0152) / 0.0160 = 5.000 %.
* Starlight 2k: list 1.2 × $0.1494 = $0.17928 → quote $0.1793; charge 0.17928 ÷ 0.95 =
  $0.1887; error (0.1887 − 0.1793) / 0.1887 = 4.981 %.

Two of each: the Estimate-vs-actual page reads a mean error of (2 × 5.000 + 2 × 4.981) / 4 =
4.99 % over 4 measured pairs, 5.00 % for Rhea and 4.98 % for Starlight.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import streamlit as st

from studio import ledger
from studio.config import Settings
from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from studio.service import Source, Studio
from tests.app.conftest import open_page
from tests.app.server_process import one_server_process
from tests.model_ids import RHEA, STARLIGHT

EXPECTED = {
    RHEA: (Decimal("0.0152"), Decimal("0.0160")),
    STARLIGHT: (Decimal("0.1793"), Decimal("0.1887")),
}


@pytest.fixture(scope="module")
def skewed(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("sbx-skew"), port=None, workers=2,
                       extra_args=["--price-skew", "0.05"])
    assert sb.owned
    yield sb.url
    sb.stop()


def test_price_skew_shows_as_a_five_percent_quote_error(tmp_path, skewed, realshort,
                                                        monkeypatch):
    settings = Settings.from_mapping({"OXEN_BASE_URL": skewed, "LTX_BASE_URL": skewed,
                                      "STUDIO_DATA_DIR": str(tmp_path)})
    studio = Studio(settings, JobStore(tmp_path / "jobs.sqlite3"), sandbox_url=skewed)
    src = Source("upload", "realshort.mp4", path=realshort)
    rhea = studio.prepare(RHEA, src, {"resolution": "1080p"})
    starlight = studio.prepare(STARLIGHT, src, {"resolution": "2k"})
    assert all(o.ok for o in studio.submit_plan([(rhea, 2), (starlight, 2)]))
    deadline = time.time() + 300
    while studio.store.count_active() and time.time() < deadline:
        studio.tracker.poll_due(now=time.time() + 60)  # ignore backoff: the test is the clock
        time.sleep(0.3)
    done = studio.store.list()
    assert len(done) == 4 and {j.status for j in done} == {"succeeded"}, [j.error for j in done]

    for job in done:  # Oxen's reported cost, beside the client's own quote
        quote, charge = EXPECTED[job.model_id]
        assert (Decimal(job.quote["amount_usd"]), Decimal(job.charge_usd)) == (quote, charge)

    by_model = ledger.error_by(done, "model_id").set_index("model_id")
    assert by_model.loc[RHEA, "mean_abs_pct_error"] == pytest.approx(5.0, abs=1e-9)
    assert by_model.loc[STARLIGHT, "mean_abs_pct_error"] == pytest.approx(
        float((Decimal("0.1887") - Decimal("0.1793")) / Decimal("0.1887") * 100), abs=1e-9)
    overall = ledger.generation_rows(done)["abs_pct_error"].mean()
    assert overall == pytest.approx(5.0, abs=0.05)  # 4.99 %: the skew, to the 1/100 cent

    # ... and the Estimate-vs-actual page, as the app draws it from the same data dir.
    studio.store.close()
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    for var, value in (("OXEN_BASE_URL", skewed), ("LTX_BASE_URL", skewed)):
        monkeypatch.setenv(var, value)
    for var in ("OXEN_API_KEY", "LTXV_API_KEY", "DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    st.cache_resource.clear()
    with one_server_process():
        at = open_page("ledger")
    st.cache_resource.clear()
    assert not at.exception, at.exception
    assert at.title[0].value == "Estimate vs actual"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Mean error, 4 measured pairs"] == "4.99 %", metrics
    per_model = at.dataframe[0].value
    errors = dict(zip(per_model["Model"], per_model["Mean abs. % error"], strict=True))
    assert errors == {"Topaz Rhea": "5.00 %", "Topaz Starlight 2.5": "4.98 %"}, errors
