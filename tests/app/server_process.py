"""Make Streamlit's AppTest decide the legacy ``pages/`` mode once, as a server process does.

A Streamlit server decides once per process whether the app runs in the legacy ``pages/``
mode (``PagesManager.uses_pages_directory``), and the first ``st.navigation`` call turns it
off for good (see components/router.py). AppTest instead resets that flag before *every*
``run()``, as if each run were a new process: with our ``pages/`` folder each run would
begin in the legacy mode, and the router's guard would spend it on a rerun — dropping that
run's button click, which no real server ever does after its first run. Inside
:func:`one_server_process`, AppTest's reset hits a subclass, so the flag lives as on a
server: undecided when the context opens, decided by the first run, off after the first
navigation. The first run of each test still goes through the legacy mode and the guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from streamlit.runtime import pages_manager
from streamlit.testing.v1 import app_test


@contextmanager
def one_server_process() -> Iterator[None]:
    """Within the block, AppTest runs share one "process"'s legacy-pages decision."""

    class _SameProcess(pages_manager.PagesManager):
        pass  # AppTest assigns its reset to this class's attribute, not the real one's

    saved_cls, saved_flag = app_test.PagesManager, pages_manager.PagesManager.uses_pages_directory
    pages_manager.PagesManager.uses_pages_directory = None  # a new process
    app_test.PagesManager = _SameProcess  # type: ignore[misc]
    try:
        yield
    finally:
        app_test.PagesManager = saved_cls  # type: ignore[misc]
        pages_manager.PagesManager.uses_pages_directory = saved_flag
