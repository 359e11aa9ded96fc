"""Review: the read-only page a review link opens (``/review?g=<job id>,<job id>``)."""

from components.review_page import render_review_page
from components.router import leave_legacy_pages_mode
from components.services import current_studio


def main() -> None:
    render_review_page(current_studio())


leave_legacy_pages_mode()
main()
