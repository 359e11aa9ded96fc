"""LTX HDR on the LTX API directly (EXR frames)."""

from components.model_page import render_model_page
from components.router import ensure_routed
from components.services import current_studio
from studio.catalog import LTX_DIRECT, MODELS


def main() -> None:
    render_model_page(MODELS[LTX_DIRECT], current_studio(), key="ltx_direct")


ensure_routed()
main()
