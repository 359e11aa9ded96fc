"""What the model pages' forms say and offer (issue 10 items 4, 5, 6, 7, 11, 15, 28).

Expected numbers are worked out in the comments from the sample clip (cockatoo.mp4: 14 s,
1280×720, 20 frames/s, 280 frames; shared/data/SOURCES.md) and the vendor docs, never read
back from the code under test.
"""

from __future__ import annotations

import re

import pytest

from studio.models import ltx_hdr
from tests.app.conftest import open_page, texts


def _captions(at) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def _widget_keys(at, kind: str) -> set[str]:
    return {w.key for w in getattr(at, kind)}


# -- item 4: LTX 2.3 opens clean; the prompt says what to write; the documented default -----
def test_ltx_hdr_opens_without_a_problem_and_names_what_submit_needs(data_dir):
    at = open_page("ltx_hdr")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]  # nothing red before the user acts
    assert at.button(key="ltx_hdr:submit").disabled
    assert "To submit, fill in: Prompt" in _captions(at)
    prompt = at.text_area(key="ltx_hdr:prompt")
    assert "describe the hdr look" in (prompt.placeholder or "").lower()
    # Only spaces is something the user did: now it is a problem, said in red.
    prompt.set_value("   ").run()
    # The alert is Markdown with provider-safe escapes (components.text.plain): read it as
    # the browser shows it.
    shown = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))
    assert "prompt: is required and must not be empty" in shown
    prompt.set_value("cinematic HDR, natural highlights").run()
    assert not at.error and not at.button(key="ltx_hdr:submit").disabled


def test_ltx_hdr_shows_the_documented_negative_prompt_and_adopts_it_in_one_click(data_dir):
    at = open_page("ltx_hdr")
    # model_params.md §2: the former schema default starts with these words.
    documented = [c.value for c in at.code if str(c.value).startswith(
        "color distortion, overexposure, static, blurry details, subtitles")]
    assert documented, "the documented default negative_prompt is not shown"
    assert at.text_area(key="ltx_hdr:negative_prompt").value in ("", None)
    at.button(key="ltx_hdr:negative_prompt:adopt").click().run()
    assert at.text_area(key="ltx_hdr:negative_prompt").value == documented[0]


# -- item 5: how much of the clip num_frames covers; one click covers all of it -------------
def test_ltx_hdr_quote_card_says_how_much_of_the_clip_is_covered_and_covers_it(data_dir):
    at = open_page("ltx_hdr")
    at.text_area(key="ltx_hdr:prompt").set_value("cinematic HDR").run()
    # Defaults: num_frames 121 at 24 frames/s = 5.04 s of the 14.0 s sample: 36 %.
    warning = " ".join(w.value for w in at.warning)
    assert "5.0 s of the 14.0 s clip (36%)" in warning, warning
    # The whole clip: 14 s × 24 frames/s = 336 frames (≤ 481).
    button = at.button(key="ltx_hdr:cover")
    assert "336 frames" in button.label
    button.click().run()
    assert at.number_input(key="ltx_hdr:num_frames").value == 336
    assert "covers the whole 14.0 s clip" in _captions(at)
    # 1280×720 "auto" is capped to a 704 px short side: 1252×704 (even), × 336 frames
    # = 296,153,088 px → 297 MP (rounded up) × $0.0027075 = $0.8041275 → $0.8041.
    assert "$0.8041" in texts(at)


# -- item 6: Hyperion's ProRes profile only with ProRes ------------------------------------
def _export_code(at, language: str = "python") -> str:
    return "\n".join(str(c.value) for c in at.code if c.language == language)


def test_hyperion_shows_and_sends_output_profile_only_with_prores(data_dir):
    at = open_page("hyperion_hdr")
    assert at.segmented_control(key="hyperion_hdr:output_encoder").value == "H265"
    assert "hyperion_hdr:output_profile" not in _widget_keys(at, "segmented_control")
    assert "output_profile" not in _export_code(at)
    at.segmented_control(key="hyperion_hdr:output_encoder").set_value("ProRes").run()
    assert at.segmented_control(key="hyperion_hdr:output_profile").value == "422 HQ"
    assert "'output_profile': '422 HQ'" in _export_code(at)


# -- item 7: what target_fps gives, and the listed rate nearest the source ------------------
@pytest.mark.parametrize("page", ["starlight", "rhea"])
def test_upscalers_say_the_output_rate_and_offer_the_nearest_listed_rate(data_dir, page):
    at = open_page(page)
    # Default target_fps 30 on the 20 frames/s sample: 14 s × 30 = 420 frames from 280.
    assert "Output frame rate: 30 frames/s. The clip is 20 frames/s, so its 280 frames " \
           "become 420" in _captions(at)
    # The 8 listed rates (model_params.md §3/§4); nearest to 20 is 23.976 (3.976 away; 24 is 4).
    [offer] = [b for b in at.button if b.key.startswith(f"{page}:suggest:target_fps")]
    assert offer.label == "Use 23.976 frames/s"
    offer.click().run()
    assert at.selectbox(key=f"{page}:target_fps").value == 23.976
    # 14 s × 23.976 = 335.66 → 336 frames.
    assert "Output frame rate: 23.976 frames/s" in _captions(at)
    assert "become 336" in _captions(at)
    assert not [b for b in at.button if b.key.startswith(f"{page}:suggest:target_fps")]


# -- item 11: one display name on screen, the id in details --------------------------------
@pytest.mark.parametrize("page, name, model_id", [
    ("starlight", "Topaz Starlight 2.5", "topazlabs-upscale-starlight-2-5-video"),
    ("ltx_direct", "LTX HDR (direct)", "ltx-video-to-video-hdr"),
])
def test_one_display_name_and_the_id_only_in_details(data_dir, page, name, model_id):
    at = open_page(page)
    assert at.title[0].value == name
    [details] = [e for e in at.expander if e.label == "Model details"]
    inside = " ".join(str(m.value) for m in details.markdown)
    assert model_id in inside
    outside = texts(at).replace(inside, "")
    assert model_id not in outside
    for alias in ("Starlight upscale", "Rhea upscale", "LTX HDR direct", "LTX 2.3 HDR "):
        assert alias not in texts(at)


# -- item 15: the uploader takes video files only -------------------------------------------
def test_model_page_uploader_accepts_video_types_only(data_dir):
    at = open_page("starlight")
    at.segmented_control(key="starlight:kind").set_value("upload").run()
    accepted = set(at.file_uploader(key="starlight:upload").proto.type)
    assert {".mp4", ".mov", ".mkv"} <= accepted
    assert not accepted & {".csv", ".txt", ".png", ".json", ".zip"}


# -- item 28: LTX 2.3 frames_per_second: standard rates in one click, any 1–60 typed --------
def test_ltx_hdr_frame_rate_standard_rates_one_click_and_any_value_typed(data_dir):
    at = open_page("ltx_hdr")
    at.text_area(key="ltx_hdr:prompt").set_value("cinematic HDR").run()
    pills = at.pills(key="ltx_hdr:frames_per_second:pick")
    # Film, PAL, NTSC and their doubles, written as people write them.
    assert pills.options == ["23.976", "24", "25", "29.97", "30", "50", "59.94", "60"]
    pills.set_value(29.97).run()
    assert at.number_input(key="ltx_hdr:frames_per_second").value == pytest.approx(29.97)
    assert "'frames_per_second': 29.97" in _export_code(at)
    at.number_input(key="ltx_hdr:frames_per_second").set_value(48.5).run()
    assert at.pills(key="ltx_hdr:frames_per_second:pick").value is None
    assert "'frames_per_second': 48.5" in _export_code(at)
    assert not at.error
    number = at.number_input(key="ltx_hdr:frames_per_second")
    assert (number.min, number.max) == (1, 60)  # the schema's range (model_params.md §2)


def test_documented_negative_prompt_is_the_vendor_text():
    # model_params.md §2 quotes its start; the unit holds the full text.
    assert ltx_hdr.DOCUMENTED_NEGATIVE_PROMPT.startswith(
        "color distortion, overexposure, static, blurry details, subtitles")
