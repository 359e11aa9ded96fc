"""Forecast recompute: price a 1,000-row plan and build its table (goal: ≤ 200 ms).

Every edit on the Forecast page reprices the whole plan (``forecast.price_plan``) and rebuilds
the table (``PricedPlan.to_frame``). The plan here has 1,000 *distinct* rows — durations,
sizes, frame rates and settings all vary across the five models — so the per-call quote cache
never gets a hit and the figure is honest. Prints the first run (cold: nothing warmed) and the
median of N runs, then PASS/FAIL; exits 1 on FAIL. Run: ``.venv/bin/python
bench/forecast_recompute.py``.
"""

from __future__ import annotations

import random
import sys
import time

from _common import median_ms, timed

from components.plan_editor import frame_to_records, rows_to_frame  # imports Streamlit: untimed
from studio import charts, forecast, models
from studio.models import hyperion_hdr, ltx_hdr, rhea, starlight

ROWS = 1000
N = 15
GOAL_MS = 200.0

SIZES = [(1280, 720), (1920, 1080), (2560, 1440), (3840, 2160), (1080, 1920), (960, 540),
         (720, 480), (1440, 1080)]
FPS = [23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0]


def build_plan(rows: int = ROWS) -> list[forecast.PlanRow]:
    """``rows`` distinct plan rows spread over the five models (seeded, repeatable)."""
    rng = random.Random(11)
    ids = list(models.MODELS)
    plan: list[forecast.PlanRow] = []
    for i in range(rows):
        mid = ids[i % len(ids)]
        w, h = SIZES[rng.randrange(len(SIZES))]
        fps = FPS[rng.randrange(len(FPS))]
        duration = round(2 + i * 0.37 + rng.random(), 3)  # strictly increasing: all distinct
        params: dict[str, object] = {}
        if mid in (starlight.MODEL_ID, rhea.MODEL_ID):
            params["resolution"] = rng.choice(models.get(mid).param("resolution").enum or ())
            params["target_fps"] = rng.choice(tuple(models.get(mid).param("target_fps").enum or ()))
        elif mid == hyperion_hdr.MODEL_ID:
            params["transfer_function"] = rng.choice(["pq", "hlg"])
        elif mid == ltx_hdr.MODEL_ID:
            params["num_frames"] = rng.randint(9, 481)
            params["resolution"] = rng.choice(["auto", "landscape_16_9", "square_hd"])
        plan.append(forecast.PlanRow(
            clip=f"clip-{i:04d}", duration_s=duration, width=w, height=h, fps=fps,
            model_id=mid, params=models.get(mid).with_defaults(params),
            generations=1 + i % 3))
    return plan


def recompute(plan: list[forecast.PlanRow]) -> object:
    return forecast.price_plan(plan).to_frame()


def page_recompute(editor_frame: object) -> object:
    """What the Forecast page computes on every edit (everything but drawing): the editor's
    frame → records → validated plan rows → the autosaved plan CSV → priced plan → table,
    per-model totals and the chart on screen by default (cost stacked by model). The other
    charts and the exports are computed only when chosen or downloaded."""
    rows, problems = forecast.rows_from_records(frame_to_records(editor_frame))  # type: ignore[arg-type]
    assert not problems, problems[:3]
    forecast.plan_csv(rows)
    priced = forecast.price_plan(rows)
    priced.by_model()
    charts.plan_by_model(priced)
    return priced.to_frame()


def main() -> int:
    plan = build_plan()
    keys = {(r.model_id, r.duration_s, r.width, r.height, r.fps, tuple(sorted(r.params.items())))
            for r in plan}
    assert len(keys) == ROWS, "the bench plan must have 1,000 distinct rows"
    t0 = time.perf_counter()
    frame = recompute(plan)
    first_ms = (time.perf_counter() - t0) * 1000
    priced = forecast.price_plan(plan)
    assert not priced.problems, priced.problems[:3]
    med = median_ms(timed(lambda: recompute(plan), N))
    editor = rows_to_frame(plan)
    page_first_t0 = time.perf_counter()
    page_recompute(editor)
    page_first = (time.perf_counter() - page_first_t0) * 1000
    page_med = median_ms(timed(lambda: page_recompute(editor), N))
    per_model = {models.get(m).short_name: sum(1 for r in plan if r.model_id == m)
                 for m in models.MODELS}
    print(f"forecast recompute: price_plan + to_frame on {ROWS} distinct rows "
          f"({', '.join(f'{k} {v}' for k, v in per_model.items())})")
    print(f"  table {len(frame)} rows × {len(frame.columns)} columns, total ${priced.total_usd}")
    print(f"  first run {first_ms:7.1f} ms")
    print(f"  median of {N} runs {med:7.1f} ms")
    print(f"page path (editor frame → rows → saved CSV → quotes → table, totals, default "
          f"chart): first {page_first:.1f} ms, "
          f"median of {N} {page_med:.1f} ms")
    ok = max(med, first_ms, page_med, page_first) <= GOAL_MS
    print(f"goal ≤ {GOAL_MS:.0f} ms (every figure above): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
