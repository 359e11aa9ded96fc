"""The Generations page and the actions on a generation: Mine/Team, search, status filter,
retry as a new linked generation, "rerun with edits" links and the query-parameter prefill
they lead to, presets on a model page, and the selection ZIP.

The pure rules (filters, links, widget values) are tested first without AppTest.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from components import links
from components.filters import JobQuery, filter_jobs, job_cost, load_jobs
from components.job_actions import retry_source, zip_opener
from components.request_form import NOT_SET, widget_values
from studio import models, presets
from studio.config import Settings
from studio.jobs import Job, JobStore
from studio.service import Source, Studio
from tests.app.conftest import APP, REPO, open_page, texts
from tests.model_ids import HYPERION, LTX_OXEN, RHEA, STARLIGHT

MY_KEY = "oxen-my-own-key-a1b2c3"
TEAM_KEY = "oxen-teammate-key-d4e5f6"
ME = Settings.from_mapping({"OXEN_API_KEY": MY_KEY}).owner()
TEAMMATE = Settings.from_mapping({"OXEN_API_KEY": TEAM_KEY}).owner()
SANDBOX_OWNER = Settings.from_mapping({}).owner()  # no key: the sandbox placeholder's print
T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def job(label: str, *, minutes: int = 0, owner: str = ME, **kw) -> Job:
    """A stored generation ``minutes`` after T0 (newer = larger). Its id is fixed: the search
    also matches ids, and a random one holding "720" made "rhea 720" find sunset.mov
    (CI f2)."""
    fields = dict(
        id=f"job-{label}-{minutes}", model_id=STARLIGHT, provider="oxen", owner=owner,
        params={"resolution": "1080p", "target_fps": 30, "interpolate_frames": False},
        source={"kind": "url", "label": label, "url": f"https://cdn.example/{label}"},
        status="succeeded", remote_id=f"gen-{label}", quote={"amount_usd": "1.00",
                                                            "provenance": "published"},
        created_at=T0 + timedelta(minutes=minutes),
        completed_at=T0 + timedelta(minutes=minutes + 3),
        result_files={"missing": ""},
    )
    fields.update(kw)
    return Job(**fields)


def team_rows() -> list[Job]:
    return [
        job("harbour.mp4", minutes=1, owner_name="Ada", charge_usd="2.50"),
        job("sunset.mov", minutes=2, owner=TEAMMATE, owner_name="Grace", status="failed",
            error="Upstream worker crashed", model_id=RHEA,
            params={"resolution": "720p"}, quote={"amount_usd": "0.40"}),
        job("concert.mp4", minutes=3, owner=TEAMMATE, owner_name="Grace", status="cancelled",
            quote=None),
        job("city.mp4", minutes=4, model_id=HYPERION, params={"transfer_function": "pq"},
            status="unknown", quote={"amount_usd": "3.10"}),
    ]


def seed(data_dir: Path, jobs: list[Job]) -> None:
    store = JobStore(data_dir / "jobs.sqlite3")
    store.insert_many(jobs)
    store.close()


def shown_sources(at: AppTest) -> list[str]:
    [table] = [d for d in at.dataframe if "Source" in d.value.columns]
    return list(table.value["Source"])


# -- pure rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("query, expected", [
    (JobQuery(), ["city.mp4", "concert.mp4", "sunset.mov", "harbour.mp4"]),
    (JobQuery(scope="mine"), ["city.mp4", "harbour.mp4"]),
    (JobQuery(statuses=("failed", "cancelled")), ["concert.mp4", "sunset.mov"]),
    (JobQuery(model_id=RHEA), ["sunset.mov"]),
    (JobQuery(text="grace"), ["concert.mp4", "sunset.mov"]),            # owner name
    (JobQuery(text="CRASHED"), ["sunset.mov"]),                         # error, any case
    (JobQuery(text="gen-harbour"), ["harbour.mp4"]),                    # generation id
    (JobQuery(text="hyperion"), ["city.mp4"]),                          # model display name
    (JobQuery(text="rhea 720"), []),                                    # every word must match
    (JobQuery(text="rhea sunset"), ["sunset.mov"]),
    (JobQuery(sort="oldest"), ["harbour.mp4", "sunset.mov", "concert.mp4", "city.mp4"]),
    (JobQuery(sort="cost_desc"), ["city.mp4", "harbour.mp4", "sunset.mov", "concert.mp4"]),
    (JobQuery(sort="cost_asc"), ["sunset.mov", "harbour.mp4", "city.mp4", "concert.mp4"]),
    (JobQuery(scope="mine", sort="cost_asc"), ["harbour.mp4", "city.mp4"]),
])
def test_filter_jobs(query, expected):
    got = filter_jobs(team_rows(), query, me=ME)
    assert [j.source["label"] for j in got] == expected


def test_cost_is_the_charge_when_known_else_the_quote():
    harbour, sunset, concert, _ = team_rows()
    assert str(job_cost(harbour)) == "2.50" and str(job_cost(sunset)) == "0.40"
    assert job_cost(concert) is None


def test_a_key_is_never_an_owner():
    assert MY_KEY not in ME and len(ME) == 12 and ME != TEAMMATE


def test_load_jobs_on_1000_rows_filters_across_all_of_them(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.insert_many(job(f"clip-{i}.mp4", minutes=i, owner=ME if i % 2 else TEAMMATE,
                          status="failed" if i % 7 == 0 else "succeeded")
                      for i in range(1000))
    query = JobQuery(scope="team", text="clip-9", sort="cost_desc")
    rows = load_jobs(store, query, me=ME, limit=500)
    assert len(rows) == 111  # clip-9, clip-90..99, clip-900..999 (speed: bench/page_rerun.py)
    assert len(load_jobs(store, JobQuery(scope="mine"), me=ME)) == 500


@pytest.mark.parametrize("query", [
    JobQuery(), JobQuery(scope="mine"), JobQuery(text="GRACE crashed"),
    JobQuery(statuses=("succeeded", "unknown"), sort="oldest"),
    JobQuery(model_id=STARLIGHT, sort="cost_desc"), JobQuery(text="gen-", sort="cost_asc"),
    JobQuery(text="100%_"),  # LIKE wildcards are literal in SQL too
])
def test_sql_search_and_the_python_rule_agree(tmp_path, query):
    rows = team_rows()
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.insert_many(rows)

    class ListOnly:  # a store without search(): the Python path
        def list(self, **kw):
            return store.list(**kw)

    via_sql = [j.id for j in load_jobs(store, query, me=ME)]
    via_python = [j.id for j in load_jobs(ListOnly(), query, me=ME)]
    assert via_sql == via_python == [j.id for j in filter_jobs(rows, query, me=ME)]


def test_rerun_link_carries_params_and_a_url_source():
    j = job("clip.mp4")
    assert links.rerun_query(j) == {"resolution": "1080p", "target_fps": "30",
                                    "interpolate_frames": "false",
                                    "src": "https://cdn.example/clip.mp4"}
    url = links.rerun_url(j, "http://studio.example:8501/generations")
    assert url.startswith("http://studio.example:8501/starlight?resolution=1080p"
                          "&interpolate_frames=false&target_fps=30&src=https%3A%2F%2F")
    assert links.rerun_url(j).startswith("/starlight?")
    local = job("up.mp4", source={"kind": "upload", "label": "up.mp4", "path": "/x/up.mp4",
                                  "url": "http://127.0.0.1:9/api/repos/x"})
    assert "src" not in links.rerun_query(local)


def test_every_model_has_a_page_with_its_slug(data_dir):
    assert set(links.PAGE_SLUGS) == set(models.MODELS)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    for model_id in models.MODELS:
        assert (REPO / links.page_path(model_id)).is_file()
        # switch_page refuses a file st.navigation did not register: app.py lists it.
        at.switch_page(links.page_path(model_id))


def test_parse_query_uses_catalog_types_and_explains_what_it_ignores():
    spec = models.MODELS[STARLIGHT]
    got = links.parse_query(spec, {"resolution": "2k", "target_fps": "23.976",
                                   "interpolate_frames": "TRUE", "bogus": "1",
                                   "src": "ftp://nope"})
    assert got.params == {"resolution": "2k", "target_fps": 23.976, "interpolate_frames": True}
    assert got.src is None
    assert any("bogus" in n for n in got.notes) and any("src" in n for n in got.notes)
    bad = links.parse_query(spec, {"resolution": "8k", "target_fps": "fast",
                                   "interpolate_frames": "maybe"})
    assert bad.params == {} and len(bad.notes) == 3
    ltx = links.parse_query(models.MODELS[LTX_OXEN],
                            {"num_frames": "97.0", "seed": "1.5", "frames_per_second": "nan"})
    assert ltx.params == {"num_frames": 97}
    assert len(ltx.notes) == 2


def test_widget_values_cover_every_form_field():
    spec = models.MODELS[RHEA]
    values = widget_values(spec, {"resolution": "4k", "target_fps": 60.0}, key="k")
    assert values["k:resolution"] == "4k" and values["k:target_fps"] == 60
    assert values["k:grain_type"] == NOT_SET and values["k:grain"] == 0.05
    assert values["k:interpolate_frames"] is False
    assert set(values) == {f"k:{p.name}" for p in spec.form_params}


def test_retry_source_prefers_the_local_file(tmp_path):
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"x")
    j = job("c.mp4", source={"kind": "upload", "label": "c.mp4", "path": str(clip),
                             "url": "https://hub.example/c.mp4"})
    assert retry_source(j) == Source("upload", "c.mp4", path=clip)
    clip.unlink()
    assert retry_source(j) == Source("url", "c.mp4", url="https://hub.example/c.mp4")


def test_selection_zip_from_the_app_never_holds_the_key(tmp_path):
    result = tmp_path / "results" / "out.mp4"
    result.parent.mkdir()
    result.write_bytes(b"result-bytes")
    settings = Settings.from_mapping({"OXEN_API_KEY": MY_KEY, "STUDIO_DATA_DIR": str(tmp_path)})
    store = JobStore(tmp_path / "jobs.sqlite3")
    rows = [job("a.mp4", result_files={"video": str(result)}), job("b.mp4", status="failed")]
    store.insert_many(rows)
    studio = Studio(settings, store, sandbox_url="http://127.0.0.1:9")
    fh = zip_opener(studio, tuple(j.id for j in rows))()
    data = fh.read()
    fh.close()
    assert MY_KEY.encode() not in data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == sorted(["gen-a.mp4/out.mp4", "manifest.csv"])
        assert MY_KEY.encode() not in b"".join(zf.read(n) for n in zf.namelist())
    assert list((tmp_path / "exports" / "tmp").iterdir()) == []  # unlinked once opened


# -- the Generations page ---------------------------------------------------------------------


def test_mine_team_search_and_status_filters(data_dir, monkeypatch):
    monkeypatch.setenv("OXEN_API_KEY", MY_KEY)  # "Mine" = this key's fingerprint
    seed(data_dir, team_rows())
    at = open_page("generations")
    assert not at.exception, at.exception
    assert shown_sources(at) == ["city.mp4", "concert.mp4", "sunset.mov", "harbour.mp4"]
    at.segmented_control(key="generations:scope").set_value("mine").run()
    assert shown_sources(at) == ["city.mp4", "harbour.mp4"]
    at.segmented_control(key="generations:scope").set_value("team").run()
    at.text_input(key="generations:search").set_value("grace").run()
    assert shown_sources(at) == ["concert.mp4", "sunset.mov"]
    at.multiselect(key="generations:statuses").set_value(["failed"]).run()
    assert shown_sources(at) == ["sunset.mov"]
    assert "Upstream worker crashed" in texts(at)  # the detail follows the filtered list
    at.text_input(key="generations:search").set_value("nothing like this").run()
    assert "No generations match these filters." in texts(at)
    at.text_input(key="generations:search").set_value("").run()
    at.multiselect(key="generations:statuses").set_value([]).run()
    at.selectbox(key="generations:sort").set_value("cost_desc").run()
    assert shown_sources(at)[0] == "city.mp4"
    at.selectbox(key="generations:model").set_value(RHEA).run()
    assert shown_sources(at) == ["sunset.mov"]
    assert MY_KEY not in texts(at) and TEAM_KEY not in texts(at)


def test_one_id_per_generation_on_generations_and_estimate_vs_actual(data_dir):
    """Issue 10 item 13: the Generations table and Estimate vs actual show the same one id
    per generation — the provider's generation id where it has one, else ours (a sync call
    gets none) —; our id of a generation the provider named is only in its details."""
    queued = job("harbour.mp4", minutes=1, owner=SANDBOX_OWNER, charge_usd="1.00")
    sync = job("sunset.mov", minutes=2, owner=SANDBOX_OWNER, remote_id=None, mode="sync",
               charge_usd="1.10")
    seed(data_dir, [queued, sync])
    at = open_page("generations")
    [table] = [d for d in at.dataframe if "Generation id" in d.value.columns]
    assert list(table.value["Generation id"]) == [sync.id, "gen-harbour.mp4"]  # newest first
    assert "—" not in list(table.value["Generation id"])
    assert queued.id not in texts(at) + table.value.to_csv()
    assert f"generation `{sync.id}`" in texts(at)  # the detail of the newest row
    at.session_state["generations:table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert "generation `gen-harbour.mp4`" in texts(at)
    [details] = at.json
    shown = json.loads(details.value)
    assert shown["generation_id"] == "gen-harbour.mp4" and shown["job_id"] == queued.id

    at.switch_page("pages/ledger.py")
    at.run()
    at.segmented_control(key="ledger:window").set_value("All time").run()
    assert not at.exception, at.exception
    [every] = [d for d in at.dataframe if "Generation id" in d.value.columns]
    assert list(every.value["Generation id"]) == ["gen-harbour.mp4", sync.id]  # oldest first
    assert queued.id not in every.value.to_csv()


def test_selected_rows_offer_a_zip(data_dir):
    seed(data_dir, team_rows())
    at = open_page("generations")
    assert "Select rows" in texts(at)
    at.session_state["generations:table"] = {"selection": {"rows": [0, 2], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    button = at.get("download_button")
    assert [b.label for b in button] == ["Download selection as ZIP"]
    assert "2 selected" in texts(at)
    assert "gen-sunset.mov" in texts(at)  # the row just added to the selection is shown


def test_rerun_with_edits_link_carries_the_params(data_dir):
    seed(data_dir, [job("clip.mp4", params={"resolution": "2k", "target_fps": 24,
                                            "interpolate_frames": True})])
    at = open_page("generations")
    [link] = [p for p in at.page_link if p.value == "Rerun with edits"]
    assert link.proto.page.strip("/").endswith("starlight")
    query = parse_qs(link.proto.query_string)
    assert query == {"resolution": ["2k"], "target_fps": ["24"], "interpolate_frames": ["true"],
                     "src": ["https://cdn.example/clip.mp4"], "rerun_of": ["gen-clip.mp4"]}
    assert any("starlight?resolution=2k" in c.value for c in at.code)
    assert not any("rerun_of" in c.value for c in at.code)  # the Share link has no marker


def _open_link(query: dict[str, str], page: str) -> AppTest:
    """The app opened on ``pages/<page>.py`` with ``query`` in its address."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.query_params.update(query)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_sample_clip_generation_shares_the_sample_and_rerun_says_where_from(data_dir):
    """Issue 10 item 16: a generation on the bundled sample is reproducible, so its Share
    link carries the sample (no "the clip was a local file"); "Rerun with edits" fills the
    form saying which generation it came from, while an opened Share link says it was a
    link."""
    from components.source_picker import SAMPLE

    sample_job = job("cockatoo.mp4", params={"resolution": "2k", "target_fps": 24,
                                             "interpolate_frames": False},
                     source={"kind": "sample", "label": "cockatoo.mp4", "path": str(SAMPLE),
                             "url": "http://127.0.0.1:9/api/repos/sandbox/clip.mp4"})
    seed(data_dir, [sample_job])
    at = open_page("generations")
    assert "local file" not in texts(at)
    [share] = [c.value for c in at.code if "starlight?" in c.value]
    assert parse_qs(share.split("?", 1)[1]) == {
        "resolution": ["2k"], "target_fps": ["24"], "interpolate_frames": ["false"],
        "src": ["sample"]}
    assert "127.0.0.1" not in share
    [rerun] = [p for p in at.page_link if p.value == "Rerun with edits"]
    rerun_query = {k: v[0] for k, v in parse_qs(rerun.proto.query_string).items()}
    assert rerun_query["rerun_of"] == "gen-cockatoo.mp4"

    # "Rerun with edits": the app's own page link, no link opened.
    at = _open_link(rerun_query, "starlight")
    shown = texts(at)
    assert "filled in from generation gen-cockatoo.mp4" in shown
    assert "link you opened" not in shown
    assert at.segmented_control(key="starlight:kind").value == "sample"
    assert at.segmented_control(key="starlight:resolution").value == "2k"
    assert at.selectbox(key="starlight:target_fps").value == 24
    assert "rerun_of" not in shown  # the marker is not a parameter to complain about

    # The Share link, opened by a teammate: the sample and the parameters, "from the link".
    at = _open_link({k: v[0] for k, v in parse_qs(share.split("?", 1)[1]).items()},
                    "starlight")
    shown = texts(at)
    assert "filled in from the link you opened" in shown and "ignored" not in shown
    assert at.segmented_control(key="starlight:kind").value == "sample"
    assert at.segmented_control(key="starlight:resolution").value == "2k"


def test_retry_shows_a_quote_and_submits_a_linked_generation(data_dir, realshort):
    old = job("realshort.mp4", owner=SANDBOX_OWNER, status="failed", remote_id=None,
              error="Not submitted: the service was unavailable.",
              source={"kind": "upload", "label": "realshort.mp4", "path": str(realshort),
                      "url": "http://127.0.0.1:9/gone.mp4"})
    seed(data_dir, [job("other.mp4", minutes=-5, owner=SANDBOX_OWNER), old])
    at = open_page("generations")
    at.sidebar.text_input(key="display_name").set_value("Ada").run()
    at.button(key=f"generations:detail:retry:{old.id}").click().run()
    assert not at.exception, at.exception
    quote = [m for m in at.metric if m.label == "Quote"]
    assert quote and quote[0].value.startswith("$"), texts(at)
    confirm = at.button(key="generations:retry:confirm")
    assert confirm.label.startswith("Submit again · $") and not confirm.disabled
    assert len(JobStore(data_dir / "jobs.sqlite3").list()) == 2  # nothing sent before confirm
    confirm.click().run()
    assert not at.exception, at.exception
    store = JobStore(data_dir / "jobs.sqlite3")
    [new] = [j for j in store.list() if j.id not in (old.id,) and j.source["label"] == old.source["label"]]
    assert new.status in ("queued", "processing", "succeeded") and new.remote_id, new.error
    assert new.params == old.params and new.model_id == old.model_id
    assert new.owner_name == "Ada"
    assert store.get(old.id).status == "failed"  # the old row is left as it was
    assert not any(b.key == "generations:retry:confirm" for b in at.button)  # dialog closed
    assert new.parent_id == old.id  # written by the core with the row, before the send
    assert "retry of" in texts(at)  # the new generation is shown, with its lineage


def test_retry_dialog_cancel_sends_nothing(data_dir, realshort):
    old = job("realshort.mp4", owner=SANDBOX_OWNER, status="cancelled",
              source={"kind": "upload", "label": "realshort.mp4", "path": str(realshort)})
    seed(data_dir, [old])
    at = open_page("generations")
    at.button(key=f"generations:detail:retry:{old.id}").click().run()
    at.button(key="generations:retry:cancel").click().run()
    assert not any(b.key == "generations:retry:confirm" for b in at.button)
    assert len(JobStore(data_dir / "jobs.sqlite3").list()) == 1


# -- model page: links and presets ------------------------------------------------------------


def _sandbox_clip_url(data_dir: Path, sandbox_url: str, clip: Path) -> str:
    settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox_url, "LTX_BASE_URL": sandbox_url,
                                      "STUDIO_DATA_DIR": str(data_dir.parent / "uploader")})
    studio = Studio(settings, JobStore(data_dir.parent / "uploader.sqlite3"),
                    sandbox_url=sandbox_url)
    url, _ = studio.resolve_source("oxen", Source("upload", clip.name, path=clip))
    return url


def test_query_params_prefill_the_form_once(data_dir, sandbox_url, realshort):
    clip_url = _sandbox_clip_url(data_dir, sandbox_url, realshort)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.query_params.update({"resolution": "1080p", "target_fps": "24",
                            "interpolate_frames": "maybe", "colour": "teal", "src": clip_url})
    at.switch_page("pages/starlight.py")
    at.run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="starlight:resolution").value == "1080p"
    assert at.selectbox(key="starlight:target_fps").value == 24
    assert at.toggle(key="starlight:interpolate_frames").value is False  # invalid → default
    assert at.segmented_control(key="starlight:kind").value == "url"
    assert at.text_input(key="starlight:url").value == clip_url
    shown = texts(at)
    assert "filled in from the link" in shown
    assert "colour: not a parameter" in shown and "interpolate_frames: must be true or false" in shown
    assert any(m.label == "Quote" and m.value.startswith("$") for m in at.metric)  # clip probed
    at.segmented_control(key="starlight:resolution").set_value("4k").run()
    assert at.segmented_control(key="starlight:resolution").value == "4k"  # not re-applied


def test_presets_save_load_delete(data_dir):
    at = open_page("starlight")
    assert "No presets for this model yet." in texts(at)
    at.segmented_control(key="starlight:resolution").set_value("1080p").run()
    at.toggle(key="starlight:interpolate_frames").set_value(True).run()
    at.text_input(key="starlight:preset:name").set_value("quick look").run()
    at.button(key="starlight:preset:save").click().run()
    assert not at.exception, at.exception
    assert "Saved preset 'quick look'." in texts(at)
    store = JobStore(data_dir / "jobs.sqlite3")  # in the store, shared by every replica
    assert presets.load(store, STARLIGHT) == {
        "quick look": {"resolution": "1080p", "interpolate_frames": True, "target_fps": 30}}
    [(name, params, _saved)] = store.presets.entries(STARLIGHT)
    assert set(params) == {"resolution", "interpolate_frames", "target_fps"}  # no clip, no key
    # change the form, then load the preset back
    at.segmented_control(key="starlight:resolution").set_value("4k").run()
    at.toggle(key="starlight:interpolate_frames").set_value(False).run()
    assert at.selectbox(key="starlight:preset:choice").value == "quick look"
    at.button(key="starlight:preset:load").click().run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="starlight:resolution").value == "1080p"
    assert at.toggle(key="starlight:interpolate_frames").value is True
    assert "Loaded preset 'quick look'." in texts(at)
    # a bad name is explained, nothing is written
    at.text_input(key="starlight:preset:name").set_value("   ").run()
    at.button(key="starlight:preset:save").click().run()
    assert "give the preset a name" in texts(at)
    at.button(key="starlight:preset:delete").click().run()
    assert presets.load(store, STARLIGHT) == {}
    assert "No presets for this model yet." in texts(at)
