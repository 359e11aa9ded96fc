"""Reading, checking, converting and measuring media: the core's one media package.

Submodules (each says what it owns):

* :mod:`studio.media.probe` — :class:`ClipInfo` and :func:`probe` (headers, rotation,
  truncation; bounded URL reading);
* :mod:`studio.media.codec` — decode/encode helpers (:func:`iter_frames`,
  :class:`H264Writer`, :class:`SdrConverter`, the reference HDR → SDR chain);
* :mod:`studio.media.previews` — fast browser-playable SDR previews, thumbnails, trims;
* :mod:`studio.media.exr` — bounded EXR reading and ZIP frame sequences;
* :mod:`studio.media.hdr` — luminance in cd/m², scopes, false colour, MaxCLL/MaxFALL;
* :mod:`studio.media.transfer` — the colour math (PQ, HLG, BT.1886, BT.2390, …).

Everything the other packages used from the old ``studio.media`` module is re-exported
here, so ``from studio import media`` and ``media.probe(...)`` keep working.
"""

from studio.media import transfer
from studio.media.codec import (
    H264Writer,
    SdrConverter,
    even,
    fps_fraction,
    iter_frames,
    linear_from_rgb24,
    scaled_size,
    sdr_from_hdr_signal,
    yuv_matrix,
)
from studio.media.exr import ExrSequence, ExrZipSummary, exr_zip_summary, read_exr
from studio.media.previews import make_exr_zip_preview, make_sdr_preview, thumbnail, trim_clip
from studio.media.probe import (
    HDR_TRANSFERS,
    URL_TIMEOUT_S,
    ClipInfo,
    ProbeLimitError,
    browser_playable,
    is_hdr,
    open_video,
    probe,
)

__all__ = [
    "HDR_TRANSFERS",
    "URL_TIMEOUT_S",
    "ClipInfo",
    "ExrSequence",
    "ExrZipSummary",
    "H264Writer",
    "ProbeLimitError",
    "SdrConverter",
    "browser_playable",
    "even",
    "exr_zip_summary",
    "fps_fraction",
    "is_hdr",
    "iter_frames",
    "linear_from_rgb24",
    "make_exr_zip_preview",
    "make_sdr_preview",
    "open_video",
    "probe",
    "read_exr",
    "scaled_size",
    "sdr_from_hdr_signal",
    "thumbnail",
    "transfer",
    "trim_clip",
    "yuv_matrix",
]
