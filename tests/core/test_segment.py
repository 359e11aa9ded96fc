"""Frame-exact segments (the sampler's cut): the right frames, copied when that is exact,
re-encoded when it is not, audio kept, cut once, and a sentence for a segment that does not
fit. Expected frames come from decoding the source independently with PyAV."""

from __future__ import annotations

import av
import numpy as np
import pytest

from studio import media
from studio.errors import MediaError
from studio.segment import can_copy, cut_segment, frame_range


def _frames(path, first=0, count=None):
    """RGB frames ``[first, first + count)`` of ``path``, decoded from its first frame."""
    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= first and (count is None or i < first + count):
                out.append(f.to_ndarray(format="rgb24").astype(np.int16))
    return out


def test_frame_range_rounds_to_frames_and_checks_bounds():
    # 20 frames/s: 2 s from 0.5 s = frames 10..49
    assert frame_range(20.0, 280, 0.5, 2.0) == (10, 40)
    # 29.97 frames/s (45000/1499): 1 s = 30 frames
    assert frame_range(45000 / 1499, 36, 0.0, 1.0) == (0, 30)
    with pytest.raises(MediaError, match="1–5 s"):
        frame_range(20.0, 280, 0.0, 0.5)
    with pytest.raises(MediaError, match="1–5 s"):
        frame_range(20.0, 280, 0.0, 6.0)
    with pytest.raises(MediaError, match="runs past the end"):
        frame_range(20.0, 280, 13.0, 2.0)


def test_a_segment_from_a_keyframe_without_reordering_is_stream_copied_exactly(realshort, tmp_path):
    seg = cut_segment(realshort, tmp_path, start_s=0.0, length_s=1.0)
    assert seg.copied and (seg.first_frame, seg.frame_count) == (0, 30)
    got, want = _frames(seg.path), _frames(realshort, 0, 30)
    assert len(got) == 30
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))  # bit-exact
    info = media.probe(seg.path)
    assert info.frame_count == 30 and abs(info.duration_s - 30 / (45000 / 1499)) < 1e-3
    assert info.has_audio  # the audio inside the segment comes along


def test_a_segment_between_keyframes_is_re_encoded_with_exactly_its_frames(realshort, tmp_path):
    # realshort has keyframes at frames 0 and 30: a cut from frame 3 cannot be copied.
    seg = cut_segment(realshort, tmp_path, start_s=0.1, length_s=1.0)
    assert not seg.copied and (seg.first_frame, seg.frame_count) == (3, 30)
    got, want = _frames(seg.path), _frames(realshort, 3, 30)
    assert len(got) == 30
    # Each cut frame is its own source frame (x264 at CRF 12: within a few code values) and
    # clearly not its neighbour.
    for i, frame in enumerate(got):
        err = np.abs(frame - want[i]).mean()
        assert err < 2.5, (i, err)
    source = _frames(realshort)
    neighbour = np.abs(got[5] - source[3 + 5 + 1]).mean()
    assert neighbour > np.abs(got[5] - want[5]).mean()
    assert media.probe(seg.path).pix_fmt == "yuv420p"  # the source's chroma format kept


def test_the_same_segment_is_cut_once(realshort, tmp_path):
    first = cut_segment(realshort, tmp_path, start_s=0.1, length_s=1.0)
    stamp = first.path.stat().st_mtime_ns
    again = cut_segment(realshort, tmp_path, start_s=0.1, length_s=1.0)
    assert again.path == first.path and again.path.stat().st_mtime_ns == stamp
    assert again.copied == first.copied
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no .part left


@pytest.mark.slow
def test_a_keyframe_the_stream_still_refers_across_is_not_trusted(cockatoo, tmp_path):
    # cockatoo.mp4 flags frame 76 as an IDR keyframe with a clean decode order, yet its later
    # frames refer to pictures before it (decoding from 76 alone gives broken pictures): the
    # cut must notice (by decoding) and re-encode instead of copying garbage.
    seg = cut_segment(cockatoo, tmp_path, start_s=3.8, length_s=3.45)
    assert (seg.first_frame, seg.frame_count) == (76, 69)
    assert not seg.copied
    got, want = _frames(seg.path), _frames(cockatoo, 76, 69)
    assert len(got) == 69
    assert max(np.abs(a - b).mean() for a, b in zip(got, want, strict=True)) < 2.5
    assert media.probe(seg.path).pix_fmt == "yuv444p"


def test_a_segment_past_the_end_or_a_non_video_is_a_sentence(realshort, tmp_path):
    with pytest.raises(MediaError, match="runs past the end"):
        cut_segment(realshort, tmp_path, start_s=0.5, length_s=1.0)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(MediaError, match="notes.mp4"):
        cut_segment(bad, tmp_path / "out", start_s=0, length_s=1)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_can_copy_needs_a_clean_start_and_one_decode_run():
    from studio.segment import _Packet

    # display order 0 1 2 3 4 5, decode order I0 P2 B1 P4 B3 P5 (B-frames reordered)
    packets = [_Packet(0, 0, True, 0), _Packet(1, 1, False, 2), _Packet(2, 2, False, 1),
               _Packet(3, 3, False, 4), _Packet(4, 4, False, 3), _Packet(5, 5, False, 5)]
    assert can_copy(packets, 0, 3)  # frames 0-2 decode as I0 P2 B1: one run
    assert not can_copy(packets, 0, 2)  # frame 1 needs P2, which is outside
    assert not can_copy(packets, 1, 2)  # no keyframe at the start
