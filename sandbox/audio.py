"""Sound in the sandbox's outputs: keep the source's audio, or make a track, or none.

Owns the last step of every video output. Processing writes the picture to a video-only file;
:func:`finish` then writes the final file with

* the source's audio stream copied packet for packet (no re-encode), cut at the output's
  duration — what the Topaz models do, and LTX 2.3 with ``generate_audio: true``;
* a silent AAC track of the output's duration when a track is wanted and the source has no
  sound (LTX 2.3 "generates" audio: the stand-in has nothing to generate it from);
* no audio track (LTX 2.3 with ``generate_audio: false``: "false → MP4 without audio track",
  model_params.md §2).

A source codec the output container cannot carry is re-encoded to AAC. Packets of the two
streams are written in time order, two demuxers open at once, so memory holds a few packets.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

AAC_RATE = 48_000
AAC_FRAME = 1024  # samples per AAC frame


def source_has_audio(source: Path) -> bool:
    """Whether ``source`` has at least one audio stream."""
    with av.open(str(source)) as container:
        return bool(container.streams.audio)


def _seconds(packet: Any) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None else 0.0


def _packets(container: Any, stream: Any, label: int) -> Iterator[tuple[float, int, Any]]:
    for packet in container.demux(stream):
        if packet.dts is None and packet.pts is None:
            continue  # the demuxer's empty flush packet
        yield _seconds(packet), label, packet


def _open_output(path: Path) -> Any:
    return av.open(str(path), mode="w", options={"movflags": "+faststart"})


def _video_copy(out: Any, v_in: Any) -> Any:
    """An output stream copying ``v_in``, keeping its sample-entry tag: the tag carries the
    ProRes profile (apco … apch) and HEVC's ``hvc1`` that Apple players need, and a muxer
    left to choose would write its default instead."""
    v_out = out.add_stream_from_template(v_in)
    v_out.codec_context.codec_tag = v_in.codec_context.codec_tag
    return v_out


def _copy(video_only: Path, dest: Path, source: Path, duration_s: float) -> None:
    """Video and the source's first audio stream, both stream-copied."""
    with av.open(str(video_only)) as vin, av.open(str(source)) as ain, \
            _open_output(dest) as out:
        v_in, a_in = vin.streams.video[0], ain.streams.audio[0]
        v_out = _video_copy(out, v_in)
        a_out = out.add_stream_from_template(a_in)
        merged = heapq.merge(_packets(vin, v_in, 0), _packets(ain, a_in, 1),
                             key=lambda item: (item[0], item[1]))
        for t, label, packet in merged:
            if label == 1:
                if t >= duration_s:
                    continue
                packet.stream = a_out
            else:
                packet.stream = v_out
            out.mux(packet)


def _aac_frames(source: Path | None, duration_s: float) -> Iterator[Any]:
    """AAC-ready (fltp, stereo, 48 kHz) frames: the source's audio decoded and resampled,
    or silence, covering ``duration_s`` seconds at most."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AAC_RATE)
    limit = math.ceil(duration_s * AAC_RATE)
    done = 0
    if source is not None:
        with av.open(str(source)) as ain:
            for frame in ain.decode(ain.streams.audio[0]):
                for out in resampler.resample(frame):
                    if done >= limit:
                        return
                    out.pts = done
                    done += out.samples
                    yield out
        return
    silence = np.zeros((2, AAC_FRAME), dtype=np.float32)
    while done < limit:
        frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="stereo")
        frame.sample_rate = AAC_RATE
        frame.pts = done
        done += AAC_FRAME
        yield frame


def _encode_aac(video_only: Path, dest: Path, source: Path | None, duration_s: float) -> None:
    """Video stream-copied plus an AAC track (the source's audio re-encoded, or silence)."""
    with av.open(str(video_only)) as vin, _open_output(dest) as out:
        v_in = vin.streams.video[0]
        v_out = _video_copy(out, v_in)
        a_out: Any = out.add_stream("aac", rate=AAC_RATE)
        a_out.layout = "stereo"
        a_out.time_base = Fraction(1, AAC_RATE)

        def audio_packets() -> Iterator[tuple[float, int, Any]]:
            for frame in _aac_frames(source, duration_s):
                for packet in a_out.encode(frame):
                    yield _seconds(packet), 1, packet
            for packet in a_out.encode(None):
                yield _seconds(packet), 1, packet

        merged = heapq.merge(_packets(vin, v_in, 0), audio_packets(),
                             key=lambda item: (item[0], item[1]))
        for _t, label, packet in merged:
            packet.stream = v_out if label == 0 else a_out
            out.mux(packet)


def finish(video_only: Path, dest: Path, *, source: Path, duration_s: float, audio: str) -> bool:
    """Write ``dest`` from the picture in ``video_only`` plus sound, then delete
    ``video_only``. ``audio``: ``"keep"`` (the source's audio, if it has any), ``"make"`` (the
    source's audio, else a silent track) or ``"none"``. ``duration_s`` is the output's length
    in seconds; audio past it is cut. Returns whether ``dest`` has an audio track."""
    try:
        has_source_audio = audio != "none" and source_has_audio(source)
        if audio == "none" or (audio == "keep" and not has_source_audio):
            os.replace(video_only, dest)
            return False
        if has_source_audio:
            try:
                _copy(video_only, dest, source, duration_s)
            except (av.error.FFmpegError, ValueError):
                # The container cannot carry this codec (or its parameters): re-encode to AAC.
                dest.unlink(missing_ok=True)
                _encode_aac(video_only, dest, source, duration_s)
        else:
            _encode_aac(video_only, dest, None, duration_s)
        return True
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        video_only.unlink(missing_ok=True)
