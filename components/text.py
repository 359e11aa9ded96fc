"""Text from outside the app, shown as text: provider sentences never become Markdown or HTML.

``st.error``, ``st.warning`` and friends render Markdown, so a provider's ``error_message``
holding ``![x](https://tracker/pixel.png)`` would make every viewer's browser fetch that image,
and ``**`` or ``:red[…]`` would restyle the page. :func:`plain` escapes every character
Markdown (CommonMark, GitHub extensions, Streamlit's directives and LaTeX) gives a meaning,
so the alert shows the text exactly as it came. :func:`problem_list` shows a long list of
problems as its first 50 and a count, so 100,000 invalid rows make one readable alert.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_PROBLEMS_SHOWN = 50

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that mean
# something in Streamlit's Markdown (links, images, emphasis, code, HTML, tables, LaTeX,
# colour and icon directives, headings, lists).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'])")


def plain(text: object) -> str:
    """``text`` escaped for any Streamlit element that renders Markdown: it shows literally,
    no link, image, emphasis, HTML or directive is made from it. Line breaks are kept."""
    raw = "" if text is None else str(text)
    lines = [_SPECIAL.sub(r"\\\1", line) for line in raw.splitlines() or [""]]
    return "  \n".join(lines)


def problem_list(problems: Sequence[object], *, limit: int = MAX_PROBLEMS_SHOWN) -> str:
    """A Markdown bullet list of the first ``limit`` problems (each escaped with
    :func:`plain`), plus "… and N more" when there are more."""
    shown = [f"- {plain(p)}" for p in list(problems)[:limit]]
    more = len(problems) - limit
    if more > 0:
        shown.append(f"- … and {more:,} more ({len(problems):,} in all)")
    return "\n".join(shown)
