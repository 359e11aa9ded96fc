"""Sampler: a short segment of one clip through 2–6 variants, quoted and compared."""

from components.router import leave_legacy_pages_mode
from components.sampler_page import render_sampler_page
from components.services import current_studio


def main() -> None:
    render_sampler_page(current_studio(), key="sampler")


leave_legacy_pages_mode()
main()
