"""The five endpoints' ids as the API docs spell them, written out here so that tests check
the model units' ids instead of reusing them.

Sources: shared/api/oxen.md (model pages: the Oxen model ids) and ltx.md (the LTX route has no
model id; the studio names that endpoint after its route, ``/v2/video-to-video-hdr``).
"""

HYPERION = "topazlabs-hyperion-hdr-video"
LTX_OXEN = "ltx-2-3-quality-hdr"
LTX_DIRECT = "ltx-video-to-video-hdr"
RHEA = "topazlabs-rhea-video"
STARLIGHT = "topazlabs-upscale-starlight-2-5-video"
