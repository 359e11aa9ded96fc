"""OpenEXR frames: bounded reading, ZIP sequences browsed without extracting, frame statistics.

This module owns everything that opens an EXR on the core side:

* :func:`read_exr` and :func:`exr_zip_summary` (what a file or a ZIP of frames holds);
* :class:`ExrSequence`, a ZIP of hundreds of EXR frames opened in place: members are listed
  from the central directory and one is decoded on demand; a damaged member is reported for
  that frame and the others stay readable; nothing is ever extracted to disk;
* :func:`frame_stats`, :func:`view_rgb8`, :func:`pixel_readout`, :func:`save_frame` for the
  EXR frame browser.

Bounds (ITU-R / OpenEXR facts in the docstrings; sizes are ours): a ZIP member whose declared
size is over :data:`MAX_MEMBER_BYTES` is not read; the header's data and display windows are
checked before any pixel is decoded; frames up to :data:`MAX_EXR_PIXELS` are decoded whole,
larger ones (up to :data:`MAX_EXR_SIDE` a side) are read a band of scanlines at a time and
reduced by block averaging, so memory stays bounded whatever a provider sends.

Geometry follows the OpenEXR ``displayWindow``: every frame is placed in its display window
(pixels outside the data window are 0), so a sequence whose data windows differ keeps one
picture size. Pixel values are returned as stored (NaN, ±Inf and negatives included).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import OpenEXR

from studio.errors import MediaError
from studio.media import transfer

#: Largest side we agree to read at all; damaged headers can claim absurd sizes.
MAX_EXR_SIDE = 16384
#: Frames with more pixels than this (4096 × 4096) are read in bands at reduced size.
MAX_EXR_PIXELS = 4096 * 4096
#: A ZIP member declaring more bytes than this is not read (ZIP bombs, runaway frames).
MAX_MEMBER_BYTES = 192 * 1024 * 1024
#: Bytes read from a member to parse its header before deciding to decode it.
HEADER_PROBE_BYTES = 256 * 1024
#: Linear EXR value 1.0 shown at HDR reference white, 203 cd/m² (ITU-R BT.2408-7 §2.2).
EXR_WHITE_NITS = transfer.HDR_REFERENCE_WHITE_NITS
#: Channel views the frame browser offers.
CHANNEL_VIEWS = ("RGB", "R", "G", "B", "A", "luminance")


# ================================ Data types =====================================================


@dataclass(frozen=True)
class ExrZipSummary:
    """What a ZIP of EXR frames holds: frame count, size in pixels of the first frame (its
    display window), its pixel ``dtype`` (``"float16"`` for half float) and the largest
    finite sample value over all frames (linear light; > 1.0 means highlights above SDR
    white). ``damaged`` lists the frames (0-based) that could not be read."""

    frame_count: int
    width: int
    height: int
    dtype: str
    max_value: float
    damaged: tuple[int, ...] = ()


@dataclass(frozen=True)
class ExrHeader:
    """The parts of an OpenEXR header a reader needs (OpenEXR file layout, "Header").

    ``data_window`` / ``display_window`` are ((x0, y0), (x1, y1)) inclusive pixel bounds;
    ``width``/``height`` are the display window's size in pixels; ``channels`` the channel
    names; ``tiled`` true for tiled parts; ``chromaticities`` the 8 xy values or ``None``.
    """

    data_window: tuple[tuple[int, int], tuple[int, int]]
    display_window: tuple[tuple[int, int], tuple[int, int]]
    channels: tuple[str, ...]
    compression: str
    tiled: bool
    chromaticities: tuple[float, ...] | None

    @property
    def width(self) -> int:
        (x0, _), (x1, _) = self.display_window
        return x1 - x0 + 1

    @property
    def height(self) -> int:
        (_, y0), (_, y1) = self.display_window
        return y1 - y0 + 1

    @property
    def data_size(self) -> tuple[int, int]:
        (x0, y0), (x1, y1) = self.data_window
        return x1 - x0 + 1, y1 - y0 + 1


@dataclass
class ExrFrame:
    """One decoded frame, placed in its display window.

    ``rgb``: (H, W, 3) linear RGB as stored (float16 for half-float files, else float32),
    H×W = the display window divided by ``reduction``. ``alpha``: (H, W) or ``None``.
    ``reduction``: 1 when read whole; n when n×n blocks were averaged to stay within the
    pixel budget (``note`` says so). ``dtype``: the stored sample type.
    """

    index: int
    name: str
    header: ExrHeader
    rgb: np.ndarray
    alpha: np.ndarray | None
    dtype: str
    reduction: int = 1
    note: str | None = None
    luminance_only: bool = False

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True)
class ChannelStats:
    """Statistics of one channel over the finite samples (linear values as stored)."""

    minimum: float
    maximum: float
    mean: float


@dataclass(frozen=True)
class FrameStats:
    """Per-frame min/max/mean per channel over finite samples, and non-finite counts.

    ``nan_count``, ``pos_inf_count``, ``neg_inf_count`` count samples (not pixels) over R,
    G, B (and A). NaN and Inf never enter the means or a histogram; they are counted here.
    """

    channels: dict[str, ChannelStats]
    nan_count: int
    pos_inf_count: int
    neg_inf_count: int
    negative_count: int
    pixel_count: int

    @property
    def non_finite(self) -> int:
        return self.nan_count + self.pos_inf_count + self.neg_inf_count


# ================================ Headers ========================================================


def _box(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    (x0, y0), (x1, y1) = value
    return (int(x0), int(y0)), (int(x1), int(y1))


def parse_header(raw: dict[str, Any], label: str) -> ExrHeader:
    """Check an OpenEXR header dict (from the bindings) and keep what a reader needs.

    Raises MediaError when the windows are empty or larger than :data:`MAX_EXR_SIDE`.
    """
    try:
        data = _box(raw["dataWindow"])
        display = _box(raw.get("displayWindow", raw["dataWindow"]))
    except (KeyError, TypeError, ValueError) as err:
        raise MediaError(
            f"The EXR file '{label}' has no usable data window; it is damaged. Export the "
            "frame again."
        ) from err
    for what, ((x0, y0), (x1, y1)) in (("data", data), ("display", display)):
        w, h = x1 - x0 + 1, y1 - y0 + 1
        if not (0 < w <= MAX_EXR_SIDE and 0 < h <= MAX_EXR_SIDE):
            raise MediaError(
                f"The EXR file '{label}' claims a {w}×{h} {what} window, which is not "
                f"plausible (the limit is {MAX_EXR_SIDE} pixels a side); it is damaged. "
                "Export the frame again."
            )
    chroma = raw.get("chromaticities")
    try:
        chroma_t = tuple(float(v) for v in chroma) if chroma is not None else None
    except TypeError:
        chroma_t = None
    return ExrHeader(
        data_window=data,
        display_window=display,
        channels=tuple(sorted(str(getattr(c, "name", c)) for c in raw.get("channels", ()))),
        compression=str(getattr(raw.get("compression"), "name", raw.get("compression") or ""))
        .replace("_COMPRESSION", "").replace("Compression.", ""),
        tiled="tiles" in raw or "tiledimage" in str(raw.get("type", "")),
        chromaticities=chroma_t,
    )


def _damaged(label: str, err: BaseException) -> MediaError:
    return MediaError(
        f"The EXR file '{label}' is damaged or not an OpenEXR image "
        f"({type(err).__name__}: {str(err)[:120]}). Export the frame again."
    )


def read_header(stream: IO[bytes], label: str) -> ExrHeader:
    """Parse the header of the EXR in ``stream`` (seekable; left at its start). MediaError."""
    try:
        with OpenEXR.File(stream, header_only=True) as f:
            # The header dict lives as long as the file: parse it before closing.
            return parse_header(f.header(), label)
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001 — the bindings raise many types on damage
        raise _damaged(label, err) from err
    finally:
        stream.seek(0)


# ================================ Decoding =======================================================


def _pick_channels(channels: dict[str, Any], label: str) -> tuple[np.ndarray, np.ndarray | None,
                                                                    bool]:
    """(rgb (H, W, 3), alpha or None, luminance-only) from the bindings' channel dict."""
    alpha = None
    for name in ("RGBA", "RGB"):
        if name in channels:
            px = np.asarray(channels[name].pixels)
            return px[..., :3], (px[..., 3] if px.shape[-1] > 3 else None), False
    for name, ch in channels.items():
        if name.endswith((".RGB", ".RGBA")):
            px = np.asarray(ch.pixels)
            return px[..., :3], (px[..., 3] if px.shape[-1] > 3 else None), False
    if "A" in channels:
        alpha = np.asarray(channels["A"].pixels)
    if all(c in channels for c in "RGB"):
        rgb = np.stack([np.asarray(channels[c].pixels) for c in "RGB"], axis=-1)
        return rgb, alpha, False
    if "Y" in channels:
        grey = np.asarray(channels["Y"].pixels)
        return np.repeat(grey[..., None], 3, axis=-1), alpha, True
    raise MediaError(
        f"The EXR file '{label}' has no RGB or Y channels (it has "
        f"{', '.join(sorted(channels)) or 'none'}). Export colour frames."
    )


def _place(
    pixels: np.ndarray, header: ExrHeader, reduction: int, fill: float = 0.0
) -> np.ndarray:
    """Put data-window pixels (already reduced by ``reduction``) into the display window."""
    (dx0, dy0), _ = header.data_window
    (wx0, wy0), _ = header.display_window
    if header.data_window == header.display_window and reduction == 1:
        return pixels
    out_h = math.ceil(header.height / reduction)
    out_w = math.ceil(header.width / reduction)
    canvas = np.full((out_h, out_w) + pixels.shape[2:], fill, dtype=pixels.dtype)
    oy, ox = (dy0 - wy0) // reduction, (dx0 - wx0) // reduction
    ph, pw = pixels.shape[:2]
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + ph, out_h), min(ox + pw, out_w)
    if y1 > y0 and x1 > x0:
        canvas[y0:y1, x0:x1] = pixels[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return canvas


def _block_mean(img: np.ndarray, factor: int) -> np.ndarray:
    """Average factor×factor blocks in float32 (edges padded by repeating the last row/col)."""
    if factor <= 1:
        return img
    h, w = img.shape[:2]
    ph, pw = (-h) % factor, (-w) % factor
    if ph or pw:
        pad = [(0, ph), (0, pw)] + [(0, 0)] * (img.ndim - 2)
        img = np.pad(img, pad, mode="edge")
    h, w = img.shape[:2]
    shaped = img.reshape((h // factor, factor, w // factor, factor) + img.shape[2:])
    return shaped.mean(axis=(1, 3), dtype=np.float32)


def decode_exr(
    stream: IO[bytes],
    label: str,
    *,
    max_pixels: int = MAX_EXR_PIXELS,
    max_height: int | None = None,
    index: int = 0,
    name: str = "",
) -> ExrFrame:
    """Decode one EXR from a seekable binary stream within the pixel budget.

    The header is checked first (:func:`read_header`). A frame whose data window has at
    most ``max_pixels`` pixels is decoded whole; a larger one is read a band of scanlines
    at a time and n×n block-averaged (n chosen so the result fits ``max_pixels``, and the
    picture is at most ``max_height`` tall when given). The result is placed in the display
    window. Raises MediaError for a damaged file or one with no colour channels.
    """
    header = read_header(stream, label)
    dw, dh = header.data_size
    reduction = 1
    budget = max(1, max_pixels)
    if dw * dh > budget:
        reduction = math.ceil(math.sqrt(dw * dh / budget))
    if max_height and header.height > max_height:
        reduction = max(reduction, header.height // max_height)
    if reduction > 1 and dw * dh > budget:
        rgb, alpha, grey, dtype = _banded_read(stream, header, reduction, label)
        note = (
            f"{header.width}×{header.height} is more than the {budget / 1e6:.1f}-megapixel "
            f"budget, so this frame was read at 1/{reduction} size (n×n averages)."
        )
    else:
        try:
            with OpenEXR.File(stream) as f:
                rgb, alpha, grey = _pick_channels(f.channels(), label)
        except MediaError:
            raise
        except Exception as err:  # noqa: BLE001 — bindings raise many types on damage
            raise _damaged(label, err) from err
        dtype = str(rgb.dtype)
        if rgb.dtype not in (np.float16, np.float32):
            rgb = rgb.astype(np.float32)
        if rgb.shape[:2] != (dh, dw):
            raise MediaError(f"The EXR file '{label}' has an unexpected pixel layout.")
        note = None
        if reduction > 1:
            rgb = _block_mean(rgb, reduction).astype(rgb.dtype)
            alpha = None if alpha is None else _block_mean(alpha, reduction).astype(rgb.dtype)
    rgb = _place(np.ascontiguousarray(rgb), header, reduction)
    if alpha is not None:
        alpha = _place(np.ascontiguousarray(alpha), header, reduction)
    return ExrFrame(index, name or label, header, rgb, alpha, dtype, reduction, note, grey)


def _banded_read(
    stream: IO[bytes], header: ExrHeader, reduction: int, label: str
) -> tuple[np.ndarray, np.ndarray | None, bool, str]:
    """Read channels ``reduction`` scanlines × k at a time (legacy ``InputFile.channel``)."""
    import Imath  # ships with the OpenEXR bindings

    try:
        f = OpenEXR.InputFile(stream)
    except Exception as err:  # noqa: BLE001
        raise _damaged(label, err) from err
    try:
        names = header.channels
        grey = not all(c in names for c in "RGB") and "Y" in names
        wanted = ["Y"] if grey else ["R", "G", "B"]
        if not all(c in names for c in wanted):
            raise MediaError(
                f"The EXR file '{label}' has no RGB or Y channels (it has "
                f"{', '.join(names) or 'none'}). Export colour frames."
            )
        if "A" in names:
            wanted.append("A")
        (_x0, y0), (_x1, y1) = header.data_window
        width, height = header.data_size
        pt = Imath.PixelType(Imath.PixelType.FLOAT)
        out_h, out_w = math.ceil(height / reduction), math.ceil(width / reduction)
        planes = {c: np.zeros((out_h, out_w), dtype=np.float16) for c in wanted}
        band = reduction * max(1, 64 // reduction)
        for top in range(0, height, band):
            bottom = min(top + band, height) - 1
            for c in wanted:
                raw = f.channel(c, pt, y0 + top, y0 + bottom)
                rows = np.frombuffer(raw, dtype=np.float32).reshape(bottom - top + 1, width)
                reduced = _block_mean(rows, reduction)
                r0 = top // reduction
                planes[c][r0 : r0 + reduced.shape[0]] = reduced
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001
        raise _damaged(label, err) from err
    finally:
        f.close()
    if grey:
        rgb = np.repeat(planes["Y"][..., None], 3, axis=-1)
    else:
        rgb = np.stack([planes["R"], planes["G"], planes["B"]], axis=-1)
    return rgb, planes.get("A"), grey, "float16"


def read_exr(path: str | Path) -> np.ndarray:
    """Read an OpenEXR image as an (H, W, 3) float32 array of linear light.

    H×W is the display window (pixels outside the data window are 0); frames over
    :data:`MAX_EXR_PIXELS` come back reduced. RGB/RGBA images keep their RGB (alpha
    dropped); luminance-only ``Y`` images are repeated into three channels. NaN/Inf samples
    are returned as stored. Any failure on a damaged or non-EXR file raises MediaError.
    """
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"The EXR file '{p}' does not exist. Choose the frame again.")
    if p.stat().st_size == 0:
        raise MediaError(f"The EXR file '{p.name}' is empty (0 bytes). Export the frame again.")
    with p.open("rb") as fh:
        frame = decode_exr(fh, p.name)
    return frame.rgb.astype(np.float32)


# ================================ ZIP sequences ==================================================


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class ExrSequence:
    """A ZIP of EXR frames, read in place: one member decoded on demand, nothing extracted.

    Frames are the ``.exr`` members in natural name order (``frame_2`` before ``frame_10``),
    macOS metadata folders skipped. :meth:`frame` decodes one; a member that cannot be read
    raises MediaError and is remembered in :attr:`damaged` (index → sentence), and the
    others stay readable. Member sizes are checked against :data:`MAX_MEMBER_BYTES` from the
    central directory before any byte is read, and the bytes read must equal the declared
    size. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, zip_path: str | Path):
        self.path = Path(zip_path)
        self.label = self.path.name
        if not self.path.is_file():
            raise MediaError(f"The ZIP file '{self.label}' does not exist.")
        if self.path.stat().st_size == 0:
            raise MediaError(f"The ZIP file '{self.label}' is empty (0 bytes). Download it again.")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as err:
            raise MediaError(
                f"The file '{self.label}' is not a readable ZIP archive ({err}). Download it "
                "again."
            ) from err
        infos = [
            i for i in self._zip.infolist()
            if i.filename.lower().endswith(".exr") and not i.is_dir()
            and "__MACOSX" not in i.filename
        ]  # fmt: skip
        if not infos:
            self._zip.close()
            raise MediaError(
                f"The ZIP '{self.label}' contains no .exr frames. Choose the EXR frames ZIP."
            )
        self.infos = sorted(infos, key=lambda i: _natural_key(i.filename))
        self.damaged: dict[int, str] = {}

    # -- listing -----------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return len(self.infos)

    @property
    def names(self) -> list[str]:
        """Member names in frame order (shown to people; never used as a path)."""
        return [i.filename for i in self.infos]

    def _label(self, index: int) -> str:
        return f"{self.label}: frame {index} ({self.infos[index].filename})"

    def _check_index(self, index: int) -> zipfile.ZipInfo:
        if not 0 <= index < len(self.infos):
            raise MediaError(
                f"Frame {index} is outside the sequence: '{self.label}' has frames 0–"
                f"{len(self.infos) - 1}."
            )
        return self.infos[index]

    def _read_member(self, index: int, limit: int | None = None) -> bytes:
        """The member's bytes (or its first ``limit`` bytes), sizes checked, streamed."""
        info = self._check_index(index)
        label = self._label(index)
        if info.file_size > MAX_MEMBER_BYTES:
            raise MediaError(
                f"{label} declares {info.file_size / 2**20:,.0f} MiB uncompressed, more than "
                f"the {MAX_MEMBER_BYTES / 2**20:.0f} MiB a frame may take, so it was not read. "
                "The ZIP is damaged or not a frame sequence."
            )
        want = info.file_size if limit is None else min(limit, info.file_size)
        chunks: list[bytes] = []
        got = 0
        try:
            with self._zip.open(info) as member:
                while got < want:
                    chunk = member.read(min(1 << 20, want - got))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    got += len(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
            raise MediaError(
                f"{label} cannot be extracted ({str(err)[:120]}); the ZIP looks damaged or "
                "truncated. Download it again."
            ) from err
        if got != want:
            raise MediaError(
                f"{label} holds {got:,} bytes where the ZIP declares {info.file_size:,}; the "
                "ZIP looks damaged or truncated. Download it again."
            )
        return b"".join(chunks)

    def header(self, index: int) -> ExrHeader:
        """The header of frame ``index`` from its first bytes only. MediaError if damaged."""
        label = self._label(index)
        try:
            head = self._read_member(index, HEADER_PROBE_BYTES)
            try:
                return read_header(io.BytesIO(head), label)
            except MediaError:
                if len(head) < self.infos[index].file_size:  # a header longer than the probe
                    return read_header(io.BytesIO(self._read_member(index)), label)
                raise
        except MediaError as err:
            self.damaged[index] = str(err)
            raise

    def scan(self, progress: Any | None = None) -> dict[int, str]:
        """Check every member's size and header (no pixels decoded); returns :attr:`damaged`."""
        for index in range(self.frame_count):
            try:
                self.header(index)
            except MediaError:
                pass
            if progress:
                progress((index + 1) / self.frame_count)
        return dict(self.damaged)

    def frame(self, index: int, *, max_height: int | None = None,
              max_pixels: int = MAX_EXR_PIXELS) -> ExrFrame:
        """Decode frame ``index`` (0-based) within the pixel budget; MediaError if damaged."""
        label = self._label(index)
        try:
            data = self._read_member(index)
            frame = decode_exr(io.BytesIO(data), label, max_pixels=max_pixels,
                               max_height=max_height, index=index,
                               name=self.infos[index].filename)
        except MediaError as err:
            self.damaged[index] = str(err)
            raise
        self.damaged.pop(index, None)
        return frame

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ExrSequence:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _finite_max(rgb: np.ndarray, rows: int = 256) -> float:
    """Largest finite value, a band of rows at a time (no full-size temporaries)."""
    best = -math.inf
    for top in range(0, rgb.shape[0], rows):
        band = rgb[top : top + rows]
        finite = band[np.isfinite(band)]
        if finite.size:
            best = max(best, float(finite.max()))
    return best


def exr_zip_summary(zip_path: str | Path) -> ExrZipSummary:
    """Count and inspect the EXR frames in a ZIP, reading one frame at a time.

    Returns frame count, the first readable frame's display size in pixels and stored
    dtype, the largest finite value over all frames, and the damaged frames. Raises
    MediaError for a bad ZIP, or when no frame can be read.
    """
    width = height = 0
    dtype, peak = "", -math.inf
    with ExrSequence(zip_path) as seq:
        first_error = None
        for index in range(seq.frame_count):
            try:
                frame = seq.frame(index)
            except MediaError as err:
                first_error = first_error or err
                continue
            if not dtype:
                height, width, dtype = frame.height, frame.width, frame.dtype
            peak = max(peak, _finite_max(frame.rgb))
        if not dtype and first_error is not None:
            raise first_error
        return ExrZipSummary(seq.frame_count, width, height, dtype,
                             peak if peak > -math.inf else 0.0, tuple(sorted(seq.damaged)))


# ================================ Browsing helpers ===============================================


def frame_stats(frame: ExrFrame) -> FrameStats:
    """Min/max/mean per channel over finite samples, and NaN/±Inf/negative sample counts."""
    planes = {"R": frame.rgb[..., 0], "G": frame.rgb[..., 1], "B": frame.rgb[..., 2]}
    if frame.luminance_only:
        planes = {"Y": frame.rgb[..., 0]}
    if frame.alpha is not None:
        planes["A"] = frame.alpha
    stats: dict[str, ChannelStats] = {}
    nan = pinf = ninf = neg = 0
    for name, plane in planes.items():
        finite = np.isfinite(plane)
        nan += int(np.count_nonzero(np.isnan(plane)))
        inf = ~finite & ~np.isnan(plane)
        pinf += int(np.count_nonzero(inf & (plane > 0)))
        ninf += int(np.count_nonzero(inf & (plane < 0)))
        values = plane[finite]
        neg += int(np.count_nonzero(values < 0))
        if values.size:
            stats[name] = ChannelStats(float(values.min()), float(values.max()),
                                       float(values.mean(dtype=np.float64)))
        else:
            stats[name] = ChannelStats(math.nan, math.nan, math.nan)
    return FrameStats(stats, nan, pinf, ninf, neg, frame.width * frame.height)


def luminance_of(frame: ExrFrame) -> np.ndarray:
    """(H, W) float32 relative luminance Y = 0.2126 R + 0.7152 G + 0.0722 B (ITU-R BT.709
    item 3.2; the EXR default primaries are BT.709/sRGB). Non-finite samples give NaN."""
    rgb = frame.rgb.astype(np.float32, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        y = transfer.luminance(rgb, transfer.LUMA_BT709)
    y[~np.isfinite(y)] = np.nan
    return y


_VIEW_LUTS: dict[float, np.ndarray] = {}


def _half_view_lut(exposure_stops: float) -> np.ndarray:
    """uint8 sRGB for every float16 bit pattern × 2^stops (NaN → 0, +Inf → 255)."""
    key = round(float(exposure_stops), 4)
    if key not in _VIEW_LUTS:
        if len(_VIEW_LUTS) > 16:
            _VIEW_LUTS.clear()
        v = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
        v = np.nan_to_num(v, nan=0.0, posinf=1.0, neginf=0.0) * np.float32(2.0**key)
        _VIEW_LUTS[key] = np.rint(transfer.srgb_encode(v) * 255.0).astype(np.uint8)
    return _VIEW_LUTS[key]


def view_rgb8(frame: ExrFrame, *, exposure_stops: float = 0.0, channel: str = "RGB") -> np.ndarray:
    """The frame as an (H, W, 3) uint8 sRGB picture for a screen, scene-linear view.

    Each shown value is v × 2^``exposure_stops``, clipped to 0–1 and sRGB encoded
    (IEC 61966-2-1), as EXR viewers show scene-linear data. ``channel``: ``"RGB"``,
    ``"R"``, ``"G"``, ``"B"``, ``"A"`` (grey) or ``"luminance"`` (BT.709 Y, grey). NaN is
    shown black and +Inf white. Raises MediaError for ``"A"`` on a frame without alpha.
    """
    if channel not in CHANNEL_VIEWS:
        raise MediaError(f"Unknown channel view '{channel}'; choose one of {', '.join(CHANNEL_VIEWS)}.")
    if channel == "A" and frame.alpha is None:
        raise MediaError("This frame has no alpha (A) channel.")
    if channel == "luminance":
        plane: np.ndarray = luminance_of(frame).astype(np.float16)
    elif channel == "RGB":
        plane = frame.rgb
    else:
        chosen = frame.alpha if channel == "A" else frame.rgb[..., "RGB".index(channel)]
        assert chosen is not None
        plane = chosen
    if plane.dtype != np.float16:
        with np.errstate(over="ignore"):
            plane = plane.astype(np.float16)
    out = np.take(_half_view_lut(exposure_stops), plane.view(np.uint16))
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=-1)
    return out


def pixel_readout(frame: ExrFrame, x: int, y: int, *, white_nits: float = EXR_WHITE_NITS
                  ) -> dict[str, float]:
    """Linear values at display-window pixel (x, y) (0-based, from the top left).

    Returns ``R``, ``G``, ``B`` (and ``A``) as stored, ``Y`` (BT.709 luminance) and
    ``nits`` = Y × ``white_nits`` (the scene-linear convention: 1.0 = reference white).
    Coordinates are in full-size pixels; a reduced frame reads its n×n average. Raises
    MediaError outside the picture.
    """
    full_w, full_h = frame.header.width, frame.header.height
    if not (0 <= x < full_w and 0 <= y < full_h):
        raise MediaError(f"Pixel ({x}, {y}) is outside the {full_w}×{full_h} frame.")
    px, py = x // frame.reduction, y // frame.reduction
    r, g, b = (float(v) for v in frame.rgb[py, px])
    out = {"R": r, "G": g, "B": b}
    if frame.alpha is not None:
        out["A"] = float(frame.alpha[py, px])
    yv = float(transfer.luminance(np.array([r, g, b], dtype=np.float32), transfer.LUMA_BT709))
    out["Y"] = yv
    out["nits"] = yv * white_nits
    return out


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_frame(
    frame: ExrFrame,
    dest_dir: str | Path,
    *,
    stem: str,
    fmt: str = "exr",
    exposure_stops: float = 0.0,
    channel: str = "RGB",
) -> Path:
    """Write one frame into ``dest_dir`` as EXR (linear, half float, as decoded) or PNG
    (the 8-bit sRGB view of :func:`view_rgb8`). Returns the file's path.

    The file name is built from ``stem`` (reduced to letters, digits, ``.``, ``_``, ``-``)
    and the frame number, never from the member's name, and is checked to lie inside
    ``dest_dir``, so no member name can write anywhere else. Raises MediaError.
    """
    dest_dir = Path(dest_dir).resolve()
    dest_dir.mkdir(parents=True, exist_ok=True)
    safe = _SAFE.sub("_", stem).strip("._") or "frames"
    suffix = "" if frame.reduction == 1 else f"-reduced{frame.reduction}"
    ext = {"exr": "exr", "png": "png"}.get(fmt.lower())
    if ext is None:
        raise MediaError(f"Frames can be saved as EXR or PNG, not '{fmt}'.")
    dest = (dest_dir / f"{safe[:80]}-frame{frame.index:06d}{suffix}.{ext}").resolve()
    if dest.parent != dest_dir:
        raise MediaError("The frame cannot be saved there.")
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        if ext == "png":
            from PIL import Image

            Image.fromarray(view_rgb8(frame, exposure_stops=exposure_stops, channel=channel)
                            ).save(tmp, format="PNG")
        else:
            header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
            if frame.header.chromaticities and len(frame.header.chromaticities) == 8:
                header["chromaticities"] = frame.header.chromaticities
            dtype = np.float16 if frame.rgb.dtype == np.float16 else np.float32
            pixels = frame.rgb if frame.alpha is None else np.concatenate(
                [frame.rgb, frame.alpha[..., None].astype(frame.rgb.dtype)], axis=-1)
            key = "RGB" if frame.alpha is None else "RGBA"
            with OpenEXR.File(header, {key: np.ascontiguousarray(pixels, dtype=dtype)}) as f:
                f.write(str(tmp))
        tmp.replace(dest)
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        raise MediaError(f"The frame could not be saved ({type(err).__name__}).") from err
    return dest


__all__ = [
    "CHANNEL_VIEWS",
    "EXR_WHITE_NITS",
    "MAX_EXR_PIXELS",
    "MAX_EXR_SIDE",
    "MAX_MEMBER_BYTES",
    "ChannelStats",
    "ExrFrame",
    "ExrHeader",
    "ExrSequence",
    "ExrZipSummary",
    "FrameStats",
    "decode_exr",
    "exr_zip_summary",
    "frame_stats",
    "luminance_of",
    "pixel_readout",
    "read_exr",
    "read_header",
    "save_frame",
    "view_rgb8",
]

