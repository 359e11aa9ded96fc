"""LTX 2.3 Quality HDR on Oxen (MP4 preview + EXR frames)."""

from components.model_page import render_model_page
from components.router import ensure_routed
from components.services import current_studio
from studio.catalog import LTX_OXEN, MODELS


def main() -> None:
    render_model_page(MODELS[LTX_OXEN], current_studio(), key="ltx_hdr")


ensure_routed()
main()
