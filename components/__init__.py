"""Streamlit components: typed ``render_*`` functions that take plain data and a ``key``."""
