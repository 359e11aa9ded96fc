"""The one seam between the sandbox and the client's code: media codec helpers and colour math.

The sandbox checks the client, so it shares none of the client's model units, pricing, billing,
rate book, service, budget or job code (``tests/core/test_import_contracts.py`` enforces it).
What it does share is plumbing that is not a fact about any provider: probing and decoding a
clip, the H.264 writer, and the transfer functions of the standards (ITU-R BT.1886, BT.2100 PQ
and HLG, BT.2020 matrices). They are imported here and only here, so a change of the client's
media layout is a change of this one file.

Names, as :mod:`studio.media` and :mod:`studio.transfer` define them:

* ``ClipInfo`` (what a probe reads: pixels, frames/s, frames, codec, transfer, audio),
  ``probe(path) -> ClipInfo``, ``open_video(path)``, ``iter_frames(container, stream)``,
  ``H264Writer`` (yuv420p H.264 MP4 at a constant rate), ``fps_fraction(fps) -> Fraction``,
  ``yuv_matrix(clip)`` (the Y'CbCr matrix to decode a clip with), ``DEFAULT_PRESET`` (the
  encoder speed preset: ``SANDBOX_PRESET`` or veryfast) and ``ENCODER_PRESETS``,
  ``linear_from_rgb24(rgb8)`` (BT.1886 decode to relative linear light);
* ``transfer``: the module of transfer functions and tone mapping (nits, PQ, HLG);
* ``MediaError``: what every helper above raises for an unusable file (a sentence for a
  person).
"""

from __future__ import annotations

from studio import media, transfer
from studio.errors import MediaError

ClipInfo = media.ClipInfo
probe = media.probe
open_video = media.open_video
iter_frames = media.iter_frames
H264Writer = media.H264Writer
fps_fraction = media.fps_fraction
yuv_matrix = media.yuv_matrix
linear_from_rgb24 = media.linear_from_rgb24
ENCODER_PRESETS = media.codec.ENCODER_PRESETS

#: The sandbox's x264/x265 speed preset: ``--preset``, else ``SANDBOX_PRESET``, else
#: veryfast. The test suite runs its sandboxes at ultrafast (tests/conftest.py).
DEFAULT_PRESET = media.codec.encoder_preset("SANDBOX_PRESET")

#: SDR diffuse white = HDR reference white, in cd/m² (ITU-R BT.2408: 203 nits).
HDR_REFERENCE_WHITE_NITS = transfer.HDR_REFERENCE_WHITE_NITS

__all__ = [
    "DEFAULT_PRESET",
    "ENCODER_PRESETS",
    "HDR_REFERENCE_WHITE_NITS",
    "ClipInfo",
    "H264Writer",
    "MediaError",
    "fps_fraction",
    "iter_frames",
    "linear_from_rgb24",
    "open_video",
    "probe",
    "transfer",
    "yuv_matrix",
]
