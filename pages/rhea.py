"""Topaz Rhea upscaling."""

from components.model_page import render_model_page
from components.router import ensure_routed
from components.services import current_studio
from studio.catalog import MODELS, RHEA


def main() -> None:
    render_model_page(MODELS[RHEA], current_studio(), key="rhea")


ensure_routed()
main()
