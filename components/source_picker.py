"""Source picker: the bundled sample (default), a file upload, or a URL.

Uploaded files are written once into the data dir, in a folder named by their content hash
and under the user's own file name (so every message about the file names the file the user
picked), and a rerun or a second submit never re-reads the browser upload. The uploader takes
video files only. Returns a :class:`studio.service.Source`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import streamlit as st

from studio.service import Source

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "cockatoo.mp4"
SAMPLE_LABEL = "Sample: cockatoo.mp4 (14 s, 1280×720, 20 fps)"
VIDEO_TYPES = ["mp4", "mov", "mkv", "m4v", "webm"]
KINDS = {"sample": "Sample clip", "upload": "Upload", "url": "URL"}


def safe_name(name: str) -> str:
    """The user's file name as a safe single path component: the last component of
    ``name``, control and path characters replaced, at most 120 characters (the
    extension kept), never empty or hidden."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f/:*?\"<>|]", "_", base).strip().lstrip(".") or "clip"
    if len(base) > 120:
        suffix = Path(base).suffix[:16]
        base = base[: 120 - len(suffix)] + suffix
    return base


def _save_upload(uploaded, uploads_dir: Path) -> Path:
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:20]
    dest = uploads_dir / digest / safe_name(uploaded.name)
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(dest)
    return dest


def render_source_picker(*, key: str, uploads_dir: Path) -> Source | None:
    """The source widgets; returns the chosen source or ``None`` when nothing is chosen yet."""
    kind = st.segmented_control("Source clip", list(KINDS), default="sample", required=True,
                                format_func=KINDS.__getitem__, key=f"{key}:kind")
    if kind == "sample":
        st.caption("imageio's standard test clip (BSD-2-Clause); H.264 4:4:4, which most "
                   "browsers cannot decode, so it is shown through an SDR preview.")
        return Source("sample", "cockatoo.mp4", path=SAMPLE)
    if kind == "upload":
        uploaded = st.file_uploader(
            "Video file", key=f"{key}:upload", type=VIDEO_TYPES,
            help="MP4, MOV, MKV, M4V or WebM (H.264 or H.265). The file is checked before "
            "use; it is uploaded to the provider only when you submit.")
        if uploaded is None:
            return None
        return Source("upload", uploaded.name, path=_save_upload(uploaded, uploads_dir))
    url = st.text_input("Video URL", key=f"{key}:url", placeholder="https://…/clip.mp4",
                        help="A publicly reachable http(s) link to an MP4, MOV or MKV file.")
    url = (url or "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        st.error("The URL must start with https:// (or http://).")
        return None
    return Source("url", url.rsplit("/", 1)[-1] or url, url=url)
