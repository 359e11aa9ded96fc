"""Topaz Starlight 2.5 upscaling."""

from components.model_page import render_model_page
from components.router import ensure_routed
from components.services import current_studio
from studio.catalog import MODELS, STARLIGHT


def main() -> None:
    render_model_page(MODELS[STARLIGHT], current_studio(), key="starlight")


ensure_routed()
main()
