"""EXR frame browser core: ZIP sequences in place, damaged members, budgets, display window."""

from __future__ import annotations

import io
import resource
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from studio import media
from studio.errors import MediaError
from studio.media import exr, hdr
from tests.model_ids import LTX_DIRECT

from .conftest import DAMAGED_EXRS
from .media_clips import colour


def _exr_bytes(rgb: np.ndarray, *, data_window=None, display_window=None, alpha=None) -> bytes:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    if data_window is not None:
        header["dataWindow"] = tuple(np.array(p, dtype=np.int32) for p in data_window)
    if display_window is not None:
        header["displayWindow"] = tuple(np.array(p, dtype=np.int32) for p in display_window)
    pixels = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=-1)
    buf = io.BytesIO()
    with OpenEXR.File(header, {"RGB" if alpha is None else "RGBA": pixels}) as f:
        f.write(buf)
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _ramp(h=48, w=64, scale=1.0) -> np.ndarray:
    return (np.linspace(0, 3, h * w * 3, dtype=np.float32).reshape(h, w, 3) * scale).astype(
        np.float16)


# ---------------------------------------------------------------- the LTX direct sample


@pytest.fixture(scope="session")
def ltx_direct_zip(tmp_path_factory, cockatoo):
    """The sandbox's LTX direct result for the first 181 frames of cockatoo.mp4: 181
    half-float EXRs at 1280×720 (what LTX returns for the sample)."""
    from sandbox import processing
    from sandbox.models import with_defaults

    work = tmp_path_factory.mktemp("ltx")
    source = media.trim_clip(cockatoo, work / "first181.mp4", max_frames=181)
    out = processing.process(LTX_DIRECT, with_defaults(LTX_DIRECT, {}), source,
                             work / "out", preset="ultrafast")
    return out.files["exr_frames"]


@pytest.mark.slow
def test_ltx_direct_result_frame_90_opens_directly(ltx_direct_zip):
    with exr.ExrSequence(ltx_direct_zip) as seq:
        assert seq.frame_count == 181
        frame = seq.frame(90)
        assert (frame.width, frame.height, frame.dtype) == (1280, 720, "float16")
        assert frame.name == seq.names[90] and frame.index == 90
        # the bytes of member 90, decoded by OpenEXR directly, are what the browser shows
        with zipfile.ZipFile(ltx_direct_zip) as zf, OpenEXR.File(
            io.BytesIO(zf.read(seq.names[90]))
        ) as direct:
            expected = direct.channels()["RGB"].pixels
        assert np.array_equal(frame.rgb, expected)
        assert seq.damaged == {}


@pytest.mark.slow
def test_damaged_member_is_reported_and_the_others_stay_browsable(ltx_direct_zip, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(ltx_direct_zip) as src, zipfile.ZipFile(broken, "w") as dst:
        for i, info in enumerate(sorted(src.infolist(), key=lambda i: i.filename)):
            data = DAMAGED_EXRS[0].read_bytes() if i == 90 else src.read(info)
            dst.writestr(info.filename, data)
    with exr.ExrSequence(broken) as seq:
        assert seq.scan() == {90: seq.damaged[90]}
        assert "frame 90" in seq.damaged[90] and "damaged" in seq.damaged[90]
        with pytest.raises(MediaError, match="frame 90"):
            seq.frame(90)
        for index in (0, 89, 91, 180):
            assert seq.frame(index).width == 1280
        assert list(seq.damaged) == [90]
    summary = media.exr_zip_summary(broken)
    assert summary.frame_count == 181 and summary.damaged == (90,)
    damaged_seen = []
    out = media.make_exr_zip_preview(broken, tmp_path / "p.mp4", fps=20,
                                     on_damaged=lambda i, _s: damaged_seen.append(i))
    assert damaged_seen == [90] and media.probe(out).frame_count == 181


def test_every_damaged_corpus_file_as_a_member_fails_cleanly(tmp_path):
    members = {f"frame_{i:06d}.exr": p.read_bytes() for i, p in enumerate(DAMAGED_EXRS)}
    members[f"frame_{len(DAMAGED_EXRS):06d}.exr"] = _exr_bytes(_ramp())
    with exr.ExrSequence(_zip(tmp_path / "all.zip", members)) as seq:
        for i in range(len(DAMAGED_EXRS)):
            with pytest.raises(MediaError):
                seq.frame(i)
        assert seq.frame(len(DAMAGED_EXRS)).width == 64
        assert len(seq.damaged) == len(DAMAGED_EXRS)


# ---------------------------------------------------------------- NaN / Inf


def test_nan_and_inf_are_counted_not_propagated(tmp_path, exr_dir):
    path = _zip(tmp_path / "halves.zip",
                {"a.exr": (exr_dir / "AllHalfValues.exr").read_bytes()})
    with OpenEXR.File(str(exr_dir / "AllHalfValues.exr")) as f:
        ch = f.channels()
        raw = np.stack([ch[c].pixels for c in "RGB"], -1) if "R" in ch else ch["RGB"].pixels
    with exr.ExrSequence(path) as seq:
        frame = seq.frame(0)
    stats = exr.frame_stats(frame)
    assert stats.nan_count == int(np.isnan(raw).sum())
    assert stats.pos_inf_count == int(np.isposinf(raw).sum())
    assert stats.neg_inf_count == int(np.isneginf(raw).sum())
    assert stats.nan_count > 0 and stats.pos_inf_count > 0
    finite = raw[np.isfinite(raw)].astype(np.float64)
    assert stats.channels["R"].maximum == pytest.approx(float(finite.max()))
    assert np.isfinite([c.mean for c in stats.channels.values()]).all()
    nits = exr.luminance_of(frame) * exr.EXR_WHITE_NITS
    counts, _edges, below, above = hdr.log_nits_histogram(nits)
    finite_pixels = int(np.isfinite(nits).sum())
    assert counts.sum() + below + above == finite_pixels < nits.size
    view = exr.view_rgb8(frame)
    assert view.dtype == np.uint8 and view.shape == (*raw.shape[:2], 3)


# ---------------------------------------------------------------- bounds


def test_zip_bomb_member_is_not_read(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("frame_000000.exr", "w", force_zip64=True) as member:
            chunk = bytes(8 << 20)
            for _ in range(128):  # 1 GiB of zeros
                member.write(chunk)
    assert bomb.stat().st_size < 8 << 20  # a few MB on disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with exr.ExrSequence(bomb) as seq, pytest.raises(MediaError, match="1,024 MiB"):
        seq.frame(0)
    with pytest.raises(MediaError, match="not read"):
        media.exr_zip_summary(bomb)
    with pytest.raises(MediaError):
        media.make_exr_zip_preview(bomb, tmp_path / "b.mp4", fps=24)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024  # peak RSS grew by less than 64 MiB


def test_member_shorter_than_declared_is_a_sentence(tmp_path):
    path = _zip(tmp_path / "lie.zip", {"frame_0.exr": _exr_bytes(_ramp())})
    data = bytearray(path.read_bytes())
    cd = data.rindex(b"PK\x01\x02")  # central directory entry: uncompressed size at +24
    real = struct.unpack_from("<I", data, cd + 24)[0]
    struct.pack_into("<I", data, cd + 24, real + 1000)
    path.write_bytes(bytes(data))
    with exr.ExrSequence(path) as seq, pytest.raises(MediaError, match="declares|damaged"):
        seq.frame(0)


def test_frame_over_the_pixel_budget_is_read_in_bands_at_reduced_size(tmp_path):
    rng = np.random.default_rng(3)
    big = rng.random((256, 320, 3), dtype=np.float32).astype(np.float16)
    path = _zip(tmp_path / "big.zip", {"f.exr": _exr_bytes(big)})
    with exr.ExrSequence(path) as seq:
        frame = seq.frame(0, max_pixels=64 * 80)  # 16× over budget → 4×4 blocks
    assert frame.reduction == 4 and (frame.height, frame.width) == (64, 80)
    expected = big.astype(np.float32).reshape(64, 4, 80, 4, 3).mean(axis=(1, 3))
    assert np.allclose(frame.rgb.astype(np.float32), expected, atol=2e-3)
    assert "read at 1/4 size" in frame.note
    assert exr.pixel_readout(frame, 9, 5)["R"] == pytest.approx(expected[1, 2, 0], abs=2e-3)


def test_implausible_header_is_refused_before_decoding(tmp_path):
    data = bytearray(_exr_bytes(_ramp(8, 8)))
    # dataWindow is a box2i attribute: name, type, size, then four int32s (x0, y0, x1, y1).
    at = data.index(b"dataWindow\x00box2i\x00") + len(b"dataWindow\x00box2i\x00") + 4
    struct.pack_into("<iiii", data, at, 0, 0, 99999, 99999)
    path = _zip(tmp_path / "huge.zip", {"f.exr": bytes(data)})
    with exr.ExrSequence(path) as seq, pytest.raises(MediaError, match="not plausible|damaged"):
        seq.frame(0)


# ---------------------------------------------------------------- display window


def test_frames_are_placed_in_their_display_window(tmp_path):
    display = ((0, 0), (63, 47))
    a = np.full((10, 20, 3), 2.0, np.float16)
    b = np.full((30, 8, 3), 0.5, np.float16)
    members = {
        "f_0.exr": _exr_bytes(a, data_window=((5, 4), (24, 13)), display_window=display),
        "f_1.exr": _exr_bytes(b, data_window=((50, 10), (57, 39)), display_window=display),
        "f_2.exr": _exr_bytes(_ramp(), display_window=display),
    }
    path = _zip(tmp_path / "dw.zip", members)
    with exr.ExrSequence(path) as seq:
        frames = [seq.frame(i) for i in range(3)]
    assert {(f.width, f.height) for f in frames} == {(64, 48)}
    f0 = frames[0].rgb.astype(np.float32)
    assert (f0[4:14, 5:25] == 2.0).all() and f0[:4].sum() == 0 and f0[:, 25:].sum() == 0
    f1 = frames[1].rgb.astype(np.float32)
    assert (f1[10:40, 50:58] == 0.5).all() and f1[:, :50].sum() == 0
    out = media.make_exr_zip_preview(path, tmp_path / "p.mp4", fps=24)
    clip = media.probe(out)
    assert (clip.width, clip.height, clip.frame_count) == (64, 48, 3)


# ---------------------------------------------------------------- views, readout, save


def test_views_and_readout(tmp_path):
    rgb = _ramp()
    alpha = np.full(rgb.shape[:2], 0.25, np.float16)
    path = _zip(tmp_path / "v.zip", {"a.exr": _exr_bytes(rgb, alpha=alpha)})
    with exr.ExrSequence(path) as seq:
        frame = seq.frame(0)
    x, y = 10, 7
    value = rgb[y, x].astype(np.float64)
    out = exr.pixel_readout(frame, x, y)
    assert (out["R"], out["G"], out["B"], out["A"]) == pytest.approx((*value, 0.25))
    lum = 0.2126 * value[0] + 0.7152 * value[1] + 0.0722 * value[2]  # BT.709 item 3.2
    assert out["nits"] == pytest.approx(lum * 203.0, rel=1e-3)
    # +1 stop doubles the light, then sRGB (IEC 61966-2-1, by colour-science) → 8 bits
    view = exr.view_rgb8(frame, exposure_stops=1.0)
    expected = np.rint(colour.cctf_encoding(np.clip(value * 2, 0, 1), "sRGB") * 255)
    assert view[y, x] == pytest.approx(expected, abs=1)
    grey_g = exr.view_rgb8(frame, channel="G")
    assert grey_g[y, x, 0] == grey_g[y, x, 1] == grey_g[y, x, 2]
    a_view = exr.view_rgb8(frame, channel="A")
    assert a_view[y, x, 0] == round(colour.cctf_encoding(0.25, "sRGB") * 255)
    lum_view = exr.view_rgb8(frame, channel="luminance")
    assert lum_view[y, x, 0] == pytest.approx(
        round(colour.cctf_encoding(min(lum, 1.0), "sRGB") * 255), abs=1)


def test_save_never_writes_outside_the_data_dir(tmp_path):
    members = {"../../evil.exr": _exr_bytes(_ramp()), "/abs/frame.exr": _exr_bytes(_ramp())}
    path = _zip(tmp_path / "evil.zip", members)
    dest = tmp_path / "data" / "exports"
    before = set(tmp_path.parent.rglob("*evil*")) | set(Path("/abs").glob("*")) \
        if Path("/abs").exists() else set(tmp_path.parent.rglob("*evil*"))
    with exr.ExrSequence(path) as seq:
        saved = [exr.save_frame(seq.frame(i), dest, stem="../../../" + seq.names[i], fmt=fmt)
                 for i in range(2) for fmt in ("exr", "png")]
    for p in saved:
        assert p.parent == dest.resolve() and p.is_file()
    after = set(tmp_path.parent.rglob("*evil*"))
    assert after - before <= {p for p in saved} | {tmp_path / "evil.zip"}
    assert not Path("/abs/frame.exr").exists()
    back = exr.read_exr(saved[0])
    assert np.allclose(back, _ramp().astype(np.float32))
    from PIL import Image

    assert Image.open(saved[1]).size == (64, 48)
    shutil.rmtree(dest)
