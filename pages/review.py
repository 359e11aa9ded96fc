"""Review: the read-only page a review link opens (``/review?g=<job id>,<job id>``)."""

from components.review_page import render_review_page
from components.router import ensure_routed
from components.services import current_studio


def main() -> None:
    render_review_page(current_studio())


ensure_routed()
main()
