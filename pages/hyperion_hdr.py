"""Topaz Hyperion HDR (SDR → HDR, PQ or HLG)."""

from components.model_page import render_model_page
from components.router import ensure_routed
from components.services import current_studio
from studio.catalog import HYPERION, MODELS


def main() -> None:
    render_model_page(MODELS[HYPERION], current_studio(), key="hyperion_hdr")


ensure_routed()
main()
