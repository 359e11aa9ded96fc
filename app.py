"""Video Enhance Studio — the router.

Everything is in :func:`components.router.run_app`: page config, ``st.navigation`` over one page per
model plus the Generations queue, the shared sidebar (mode badge, which keys are configured —
never the keys), and the chosen page. Any ``StudioError`` that escapes a page is shown as its
sentence; the app keeps running.
"""

from components.router import run_app

run_app()
