"""Topaz Rhea upscaling: the page of the model unit whose ``page`` is this file's name."""

from pathlib import Path

from components.model_page import render_model_page
from components.router import leave_legacy_pages_mode
from components.services import current_studio
from studio import models


def main() -> None:
    unit = models.by_page(Path(__file__).stem)
    render_model_page(unit, current_studio(), key=unit.page)


leave_legacy_pages_mode()
main()
