"""The sandbox side of "Adding a model" (README step 3, issue 11): a model file outside the
sandbox package (``python -m sandbox --model-file PATH``) makes the sandbox serve one more
Oxen endpoint — listed with its own prices, validated against its own copy of the schema,
run by a named processor with its own geometry rule and charged from its own price list —
while the five built-in endpoints stay exactly as they were. A file with a problem stops the
start-up with a sentence naming every field at fault.

The last test is the whole path of the throw-away sixth unit (``tests/sixth_unit.py``): a
sandbox started with its model file runs a generation submitted through ``Studio.prepare`` +
``Studio.submit``, and the result's geometry and charge are checked against the unit's
``output_geometry`` and the hand-computed price.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandbox import model_files, models, oxen_api, prices, processing
from studio import media
from studio import models as units
from studio.config import Settings
from studio.errors import ConfigError
from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from studio.service import Source, Studio
from tests.core.conftest_sandbox import Api, RunningSandbox, running_sandbox
from tests.sixth_unit import MODEL_ID as SIXTH
from tests.sixth_unit import SANDBOX_MODEL, sandbox_model_file, write_sixth_unit
from tests.sixth_unit import SCHEMA as ACME_SCHEMA

BUILT_IN = ["topazlabs-hyperion-hdr-video", "ltx-2-3-quality-hdr", "topazlabs-rhea-video",
            "topazlabs-upscale-starlight-2-5-video"]  # the Oxen four; LTX direct is its route
SCHEMA = {
    "type": "object",
    "required": ["input_video"],
    "properties": {
        "input_video": {"type": "string", "format": "uri"},
        "resolution": {"type": "string", "enum": ["auto", "1080p", "square"], "default": "auto"},
        "target_fps": {"type": "number", "default": 24},
        "num_frames": {"type": "integer", "minimum": 9, "maximum": 257, "default": 121},
        "tier": {"type": "string", "enum": ["standard"], "default": "standard"},
    },
}


def write_model(folder: Path, **changes: Any) -> Path:
    """The sixth unit's model file with ``changes`` applied (``None`` deletes a key), its
    schema inlined; returns its path."""
    spec = {**copy.deepcopy(SANDBOX_MODEL), "request_schema": copy.deepcopy(ACME_SCHEMA)}
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture
def installed() -> Iterator[list[str]]:
    """Model ids a test installs; uninstalled afterwards so no other test sees them."""
    ids: list[str] = []
    yield ids
    for model_id in ids:
        model_files.uninstall(model_id)


def install(path: Path, ids: list[str]) -> model_files.ExtraModel:
    [extra] = model_files.install_files([path])
    ids.append(extra.id)
    return extra


# -- the file's facts, served ------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_ins_before() -> dict[str, dict[str, Any]]:
    """The built-in Oxen model objects as the sandbox serves them without a model file."""
    return {m: oxen_api.model_object(m) for m in BUILT_IN}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           built_ins_before: dict[str, dict[str, Any]]) -> Iterator[RunningSandbox]:
    """An in-process sandbox serving the sixth unit's model file beside the five built-ins."""
    folder = tmp_path_factory.mktemp("acme")
    write_sixth_unit(folder)
    [extra] = model_files.install_files([sandbox_model_file(folder)])
    try:
        with running_sandbox(tmp_path_factory.mktemp("sandbox"), workers=1) as s:
            yield s
    finally:
        model_files.uninstall(extra.id)


def test_the_model_file_adds_an_endpoint_and_leaves_the_five_alone(
        api: Api, built_ins_before: dict[str, dict[str, Any]]) -> None:
    listed = api.get("/api/ai/models").json()["data"]
    assert [m["id"] for m in listed] == [*BUILT_IN, SIXTH]
    assert {m["id"]: m for m in listed[:4]} == built_ins_before  # the built-ins unchanged
    acme = api.get(f"/api/ai/models/{SIXTH}").json()
    assert (acme["display_name"], acme["developer"]["name"]) == ("Acme Deflicker", "Acme Video")
    # The file's price list, per output second: fast $0.01, best $0.032 (no 1080p or 4k tier).
    assert acme["pricing"]["cost_per_second_by_resolution"] == {"fast": 0.01, "best": 0.032}
    assert acme["pricing"]["cost_per_second"] is None
    schema = acme["request_schema"]
    assert list(schema["properties"]) == ["input_video", "quality", "strength"]
    assert schema["properties"]["input_video"]["renderType"] == "video-url"
    assert schema["basic"] == ["input_video"]


def test_the_added_endpoint_validates_with_the_vendor_wording(api: Api, clip_url: str) -> None:
    r = api.post("/api/ai/queue", json={"model": SIXTH, "input_video": clip_url,
                                        "quality": "ultra", "strength": 2, "colour": 1})
    assert r.status_code == 200, r.text
    row = api.wait_queue(r.json()["generations"][0]["generation_id"])
    assert row["status"] == "failed"
    message = row["error_message"]
    # Starlight's error table wording, applied to the file's schema (sandbox.validation).
    assert message.startswith("Invalid quality; strength must be between 0 and 1; "
                              "Extra inputs are not permitted"), message
    assert "quality: use fast or best; got 'ultra'" in message


def test_an_unknown_model_is_still_refused(api: Api) -> None:
    r = api.post("/api/ai/queue", json={"model": "acme-unknown-video", "input_video": "x"})
    assert r.status_code == 404 and "Model not found: acme-unknown-video" in r.text


# -- geometry and charges, by hand ----------------------------------------------------------


def test_geometry_rules_by_hand(tmp_path: Path, installed: list[str]) -> None:
    short_side = install(write_model(
        tmp_path, id="acme-upscale", request_schema=SCHEMA, processor="upscale",
        geometry={"rule": "short_side", "param": "resolution",
                  "lines": {"auto": 720, "1080p": 1080, "square": 512},
                  "fps_param": "target_fps"},
        billing={"unit": "output_second"}, prices=[SANDBOX_MODEL["prices"][0]]), installed)
    # 320×240 at 30 frames/s, 36 frames (1.2 s) at "1080p": ×4.5 → 1440×1080; 1.2 s at the
    # default 24 frames/s = 28.8 → 29 frames.
    g = models.output_geometry(short_side.id, width=320, height=240, fps=30.0, frame_count=36,
                               params={"resolution": "1080p"})
    assert g == models.Geometry(1440, 1080, 24.0, 29)
    # Portrait 240×320 at the "auto" row (720 lines): 720×960.
    g = models.output_geometry(short_side.id, width=240, height=320, fps=30.0, frame_count=36,
                               params={"target_fps": 30})
    assert g == models.Geometry(720, 960, 30.0, 36)

    preset = install(write_model(
        tmp_path, id="acme-ltx", request_schema=SCHEMA, processor="ltx_oxen",
        geometry={"rule": "preset", "param": "resolution",
                  "sizes": {"auto": None, "1080p": [1920, 1080], "square": [512, 512]},
                  "max_short_side": 704, "frames_param": "num_frames",
                  "fps_param": "target_fps"},
        billing={"unit": "output_second"}, prices=[SANDBOX_MODEL["prices"][0]]), installed)
    # 1920×1080 capped to a 704 short side: 1920 × 704/1080 = 1251.6 → 1252×704; the default
    # 121 frames at 24 frames/s whatever the input's 36.
    g = models.output_geometry(preset.id, width=320, height=240, fps=30.0, frame_count=36,
                               params={"resolution": "1080p"})
    assert g == models.Geometry(1252, 704, 24.0, 121)
    g = models.output_geometry(preset.id, width=320, height=240, fps=30.0, frame_count=36,
                               params={"resolution": "square", "num_frames": 9})
    assert g == models.Geometry(512, 512, 24.0, 9)
    g = models.output_geometry(preset.id, width=320, height=240, fps=30.0, frame_count=36,
                               params={})  # auto: the input's size, under the cap
    assert g == models.Geometry(320, 240, 24.0, 121)

    # The input rule: even sizes for 4:2:x video (321 → 320), any size for EXR frames.
    video = install(write_model(tmp_path, id="acme-video", processor="hyperion"), installed)
    exr = install(write_model(tmp_path, id="acme-exr", processor="ltx_direct"), installed)
    for extra, size in ((video, (320, 240)), (exr, (321, 241))):
        g = models.output_geometry(extra.id, width=321, height=241, fps=25.0, frame_count=50,
                                   params={})
        assert g == models.Geometry(*size, 25.0, 50)
    assert (video.model.outputs, exr.model.outputs) == (("video",), ("exr_frames",))


def _geometry(w: int, h: int, fps: float, frames: int) -> models.Geometry:
    return models.Geometry(w, h, fps, frames)


def test_charges_by_hand(tmp_path: Path, installed: list[str]) -> None:
    per_second = install(write_model(tmp_path, id="acme-seconds"), installed)
    out = _geometry(320, 240, 30.0, 36)  # 1.2 s
    # 1.2 output s × Acme's $0.032 for "best" = $0.0384.
    charged = prices.charge(per_second.id, input_size=(320, 240), input_seconds=1.2,
                            output=out, params={"quality": "best", "strength": 0.5})
    assert (charged.amount_usd, charged.tier) == (Decimal("0.0384"), "best")
    assert charged.price.source == "https://example.com/acme-pricing"
    assert charged.price.as_of == "2026-11-30"
    assert charged.basis == "1.2 output s × $0.032 = $0.0384"
    # --price-skew 0.05: $0.0384 / 0.95 = $0.040421… → $0.0404.
    skewed = prices.charge(per_second.id, input_size=(320, 240), input_seconds=1.2, output=out,
                           params={"quality": "best"}, skew=Decimal("0.05"))
    assert skewed.amount_usd == Decimal("0.0404")

    row = {"tier": "any", "usd": "0.0027", "source": "https://example.com/p", "as_of": "2026-01-02"}
    mp = install(write_model(tmp_path, id="acme-mp", billing={"unit": "output_megapixel"},
                             prices=[row]), installed)
    # 1024×576 × 121 frames = 71,368,704 px → 72 MP (rounded up) × $0.0027 = $0.1944.
    charged = prices.charge(mp.id, input_size=(320, 240), input_seconds=1.2,
                            output=_geometry(1024, 576, 24.0, 121), params={})
    assert (charged.units, charged.amount_usd) == (Decimal(72), Decimal("0.1944"))

    row = {**row, "usd": "0.25"}
    per_input = install(write_model(tmp_path, id="acme-input", billing={"unit": "input_second"},
                                    prices=[row]), installed)
    # Billed on the 14 s input, not the 2 s output: 14 × $0.25 = $3.50.
    charged = prices.charge(per_input.id, input_size=(1280, 720), input_seconds=14.0,
                            output=_geometry(1280, 720, 20.0, 40), params={})
    assert charged.amount_usd == Decimal("3.5000")


def test_uninstall_forgets_the_endpoint(tmp_path: Path) -> None:
    extra = model_files.install_files([write_model(tmp_path, id="acme-gone")])[0]
    assert "acme-gone" in models.OXEN_MODEL_IDS
    model_files.uninstall(extra.id)
    assert "acme-gone" not in models.OXEN_MODEL_IDS and "acme-gone" not in models.MODELS
    with pytest.raises(KeyError):
        prices.price("acme-gone", "fast")
    model_files.uninstall("topazlabs-rhea-video")  # a built-in is never removed
    assert "topazlabs-rhea-video" in models.OXEN_MODEL_IDS


# -- a file with a problem ---------------------------------------------------------------------


def _without_best() -> list[dict[str, Any]]:
    return [p for p in SANDBOX_MODEL["prices"] if p["tier"] != "best"]


def _negative_best() -> list[dict[str, Any]]:
    return [{**p, "usd": "-0.032"} if p["tier"] == "best" else p for p in SANDBOX_MODEL["prices"]]


def _unsourced() -> list[dict[str, Any]]:
    return [{k: v for k, v in p.items() if k != "source"} for p in SANDBOX_MODEL["prices"]]


@pytest.mark.parametrize(("changes", "sentence"), [
    ({"prices": None}, "prices: Field required"),
    ({"processor": "deflicker"},
     "processor: Input should be 'upscale', 'hyperion', 'ltx_oxen' or 'ltx_direct' "
     "(got 'deflicker')"),
    ({"api": "ltx"}, "api: Input should be 'oxen' (got 'ltx') — model files add Oxen models"),
    ({"prices": "_without_best"}, "prices: no price for quality 'best'"),
    ({"prices": "_negative_best"},
     "prices[1].usd: Input should be greater than or equal to 0 (got '-0.032')"),
    ({"prices": "_unsourced"}, "prices[0].source: Field required; prices[1].source: Field "
                               "required"),
    ({"billing": {"unit": "output_second", "tier_param": "strength"}},
     "billing.tier_param: 'strength' has no enum in the request schema"),
    ({"billing": {"unit": "per_frame"}},
     "billing.unit: Input should be 'output_second', 'input_second' or 'output_megapixel'"),
    ({"id": "topazlabs-rhea-video"},
     "id: the sandbox already serves 'topazlabs-rhea-video' as a built-in model"),
    ({"id": "Acme Deflicker"}, "id: must be an Oxen model id"),
    ({"processor": "hyperion", "geometry": {"rule": "short_side", "param": "quality",
                                            "lines": {"fast": 720, "best": 1080}}},
     "geometry.rule: the hyperion processor makes 'input' geometry, not 'short_side'"),
    ({"geometry": {"rule": "short_side", "param": "resolution", "lines": {"1080p": 1080}}},
     "geometry.param: the request schema has no parameter 'resolution' (it has input_video, "
     "quality, strength)"),
    ({"geometry": {"rule": "short_side", "param": "quality", "lines": {"fast": 720}}},
     "geometry.lines: no entry for quality 'best'"),
    ({"source_field": "video_url"},
     "source_field: the request schema has no field 'video_url' for the clip"),
    ({"request_schema": "missing.schema.json"},
     "request_schema 'missing.schema.json' cannot be read (No such file or directory)"),
    ({"request_schema": {"type": "object", "properties": {"input_video": {"type": 5}}}},
     "request_schema['properties']['input_video']['type']: not a valid JSON Schema"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
])
def test_a_bad_file_is_one_sentence_naming_each_field(tmp_path, changes, sentence) -> None:
    changes = {k: globals()[v]() if isinstance(v, str) and v.startswith("_") else v
               for k, v in changes.items()}
    path = write_model(tmp_path, id="acme-broken", **changes) if "id" not in changes else \
        write_model(tmp_path, **changes)
    served = dict(models.MODELS)
    with pytest.raises(model_files.ModelFileError) as err:
        model_files.install_files([path])
    assert str(err.value).startswith(f"The model file {path} cannot be used: ")
    assert sentence in str(err.value)
    assert models.MODELS == served  # nothing half-installed


def test_every_problem_of_every_file_at_once(tmp_path) -> None:
    broken = write_model(tmp_path, processor="deflicker", colour="red")
    not_json = tmp_path / "not.json"
    not_json.write_text('{"id": "acme",\n')
    good = write_model(tmp_path, id="acme-twin")
    twin = write_model(tmp_path, id="acme-twin")
    served = dict(models.MODELS)
    with pytest.raises(model_files.ModelFileError) as err:
        model_files.install_files([broken, not_json, good, twin])
    text = str(err.value)
    assert f"The model file {broken} cannot be used: processor: " in text
    assert "; colour: Extra inputs are not permitted" in text
    assert f"The model file {not_json} cannot be used: the file is not JSON (" in text
    assert f"The model file {twin} cannot be used: id: 'acme-twin' is already added by {good}" \
        in text
    assert models.MODELS == served  # all or nothing: the good file is not served either


def test_the_sandbox_does_not_start_with_a_bad_model_file(tmp_path) -> None:
    bad = write_model(tmp_path, prices=_without_best())
    with pytest.raises(ConfigError) as err:
        start_sandbox(tmp_path / "sandbox", port=None, reuse=False, timeout_s=60,
                      extra_args=["--model-file", str(bad)])
    assert (f"Sandbox cannot start: The model file {bad} cannot be used: prices: no price "
            "for quality 'best'.") in str(err.value)


# -- the sixth unit's sandbox run, through the real client path ---------------------------


def test_every_unit_names_the_processor_the_sandbox_runs_it_with() -> None:
    for unit in units.units():
        assert processing.processor_of(unit.id) == unit.sandbox_processor, unit.id
    assert set(processing.PROCESSORS) == {"upscale", "hyperion", "ltx_oxen", "ltx_direct"}


def _run_until_done(studio: Studio, job_id: str, timeout_s: float = 180.0):
    """Drive the tracker by hand (polls, downloads) until the job is terminal and its result
    is on disk; the deadline is generous for a busy 2-core machine."""
    deadline = time.monotonic() + timeout_s
    job = studio.store.get(job_id)
    while time.monotonic() < deadline:
        studio.tracker.poll_due(now=time.time() + 60)  # ignore backoff: the test is the clock
        studio.tracker.download_results()
        job = studio.store.get(job_id)
        if job.is_terminal and (job.status != "succeeded" or job.result_files):
            return job
        time.sleep(0.3)
    raise AssertionError(f"the Acme Deflicker generation did not finish within {timeout_s:.0f} "
                         f"s; last state: {job.status} {job.error or ''}")


@pytest.mark.slow
def test_the_sixth_unit_runs_in_a_sandbox_started_with_its_model_file(tmp_path, realshort):
    folder = tmp_path / "acme"
    unit = units.load_unit_file(write_sixth_unit(folder))
    sandbox = None
    try:
        sandbox = start_sandbox(tmp_path / "sandbox", port=None, workers=1, reuse=False,
                                extra_args=["--model-file", str(sandbox_model_file(folder))])
        log = sandbox.log_path.read_text()
        assert f"Sandbox serves {SIXTH} (Acme Deflicker, upscale processor)" in log
        assert unit.sandbox_processor == SANDBOX_MODEL["processor"] == "upscale"
        settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox.url,
                                          "LTX_BASE_URL": sandbox.url,
                                          "STUDIO_DATA_DIR": str(tmp_path / "data")})
        studio = Studio(settings, JobStore(tmp_path / "jobs.sqlite3"), sandbox_url=sandbox.url)
        prepared = studio.prepare(SIXTH, Source("upload", "realshort.mp4", path=realshort),
                                  {"quality": "best"}, unit=unit)
        assert prepared.problems == ()
        # realshort.mp4: 36 frames at 30.02 frames/s = 1.1992 s, billed as 1.199 s (to the
        # millisecond). The unit's proxy rate: 1.199 × $0.03 = $0.03597 → $0.0360.
        assert prepared.quote.amount_usd == Decimal("0.0360")
        [job] = studio.submit(prepared)
        job = _run_until_done(studio, job.id)
        assert job.status == "succeeded", job.error

        clip = prepared.clip
        expected = unit.output_geometry(width=clip.width, height=clip.height, fps=clip.fps,
                                        frame_count=clip.frame_count, params=job.params)
        result = media.probe(Path(job.result_files["video"]))
        assert (result.width, result.height, result.frame_count) == \
            (expected.width, expected.height, expected.frame_count) == (320, 240, 36)
        assert result.fps == pytest.approx(expected.fps, rel=1e-3)
        # The sandbox bills from Acme's list, not the unit's proxy: 1.199 output s × $0.032
        # = $0.038368 → $0.0384, reported as the generation's cost and stored as its charge.
        assert Decimal(job.charge_usd) == Decimal("0.0384")
    finally:
        units.REGISTRY.unregister(unit.id)
        if sandbox is not None:
            sandbox.stop()
