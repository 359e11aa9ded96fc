"""Video Enhance Studio core: model units, pricing, media, providers, job tracking, sandbox.

Never imports Streamlit; the UI (app.py, pages/, components/) imports this, not the reverse.
"""
