"""The Rates page: every rate with its provenance, staleness, the live Oxen price beside the
bundled one, team overrides (edited here, validated, audited), and the shared rate book the
other pages quote from."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from components import session
from components.quote_panel import BADGE
from components.text import plain
from studio import catalog, ratebook
from studio.errors import ConfigError, ParamError, StudioError
from studio.service import Studio


@st.cache_resource(max_entries=4)
def _live_cache(cache_key: str, _studio: Studio) -> ratebook.LivePricingCache:
    """One live-pricing cache per process and key: Oxen's ``pricing`` objects, kept for
    ``STUDIO_LIVE_PRICING_TTL_S`` seconds."""
    def fetch(model_id: str) -> Any:
        model = _studio.live_model(model_id)
        return (model or {}).get("pricing") if isinstance((model or {}).get("pricing"), dict) else None

    return ratebook.LivePricingCache(fetch, ttl_s=_studio.settings.live_pricing_ttl_s)


def live_pricing(studio: Studio) -> tuple[dict[str, Any], list[str]]:
    """``{model_id: pricing object}`` for the Oxen models when a live Oxen key is set (empty
    in sandbox mode), and sentences for lookups that failed."""
    if studio.target("oxen") != "live":
        return {}, []
    cache = _live_cache(studio.settings.owner() + str(studio.settings.data_dir), studio)
    out: dict[str, Any] = {}
    errors: list[str] = []
    for spec in catalog.MODELS.values():
        if spec.provider != "oxen":
            continue
        got = cache.get(spec.id)
        if got is not None:
            out[spec.id] = got.pricing
        err = cache.last_error(spec.id)
        if err:
            errors.append(f"{spec.display_name}: {err}")
    return out, errors


def load_rate_book(studio: Studio) -> ratebook.RateBook:
    """The rate book every page quotes from: team overrides > live Oxen pricing > bundled."""
    live, _errors = live_pricing(studio)
    return ratebook.load_book(studio.settings.data_dir, live=live or None)


def _who(studio: Studio) -> str:
    """Who changed a rate: the sidebar's display name and the key's fingerprint (never the
    key), so the audit trail says who even when no name was typed."""
    key = f"key {studio.settings.owner()[:8]}"
    name = session.display_name()
    return f"{name} ({key})" if name else key


def render_rates(studio: Studio, *, key: str = "rates") -> None:
    """The page body: the rate table, the override editor and the audit trail."""
    s = studio.settings
    try:
        book = load_rate_book(studio)
    except ConfigError as exc:
        st.error(str(exc))
        return
    live, errors = live_pricing(studio)
    for e in errors:
        st.warning(plain(f"Live pricing unavailable — using the last good or bundled rate. {e}"))
    if studio.target("oxen") == "live":
        st.caption(f"Live Oxen pricing is fetched per model and kept for "
                   f"{s.live_pricing_ttl_s:.0f} s.")
    else:
        st.caption("Sandbox mode: no live Oxen pricing (set OXEN_API_KEY to fetch it). "
                   "Quotes use team overrides, then the bundled rates below.")

    today = datetime.now(UTC).date()
    entries = book.entries(today=today, max_age_days=s.rate_stale_days)
    frame = _entries_frame(entries)
    stale = int(frame["stale"].sum()) if len(frame) else 0
    c1, c2, c3 = st.columns(3)
    c1.metric("Rates", len(frame))
    c2.metric("Team overrides", int((frame["provenance"] == "override").sum()) if len(frame) else 0)
    c3.metric(f"Stale (> {s.rate_stale_days} days)", stale,
              help="As-of date older than STUDIO_RATE_STALE_DAYS.")
    st.dataframe(
        frame, width="stretch", hide_index=True, key=f"{key}:table",
        column_config={
            "source_url": st.column_config.LinkColumn("Source"),
            "stale": st.column_config.CheckboxColumn("Stale"),
            "live_differs": st.column_config.CheckboxColumn("Live ≠ bundled"),
        })
    st.caption("Provenance: " + " · ".join(f"{BADGE[k]}" for k in
                                           ("live", "published", "proxy", "override")))
    _render_override_editor(studio, entries, key=key)
    _render_audit(studio, key=key)


def _entries_frame(entries: list[Any]) -> pd.DataFrame:
    names = {m.id: m.display_name for m in catalog.MODELS.values()}
    rows = []
    for e in entries:
        r = e.effective
        rows.append({
            "model": names.get(r.model_id, r.model_id), "tier": r.tier, "unit": r.unit,
            "usd": str(r.usd), "provenance": r.provenance,
            "bundled_usd": str(e.bundled.usd) if e.bundled else "",
            "live_usd": str(e.live.usd) if e.live else "",
            "live_differs": bool(e.live_differs),
            "as_of": r.as_of, "stale": bool(e.stale), "confidence": r.confidence,
            "source_url": r.source_url, "derivation": r.derivation,
        })
    return pd.DataFrame(rows)


def _render_override_editor(studio: Studio, entries: list[Any], *, key: str) -> None:
    st.subheader("Team overrides", divider="gray")
    store = ratebook.OverrideStore(studio.settings.data_dir / "rates")
    flash = session.flash(key)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    names = {m.id: m.display_name for m in catalog.MODELS.values()}
    choices = [(e.effective.model_id, e.effective.tier) for e in entries]
    by_choice = {(e.effective.model_id, e.effective.tier): e for e in entries}
    # The rate is picked outside the form so its current value and unit show at once.
    pick = st.selectbox(
        "Rate", choices, format_func=lambda c: f"{names.get(c[0], c[0])} · {c[1]}",
        key=f"{key}:pick")
    entry = by_choice[pick]
    current = entry.effective
    st.caption(f"Now: ${current.usd} per {current.unit.replace('_', ' ')} · "
               f"{current.provenance} · as of {current.as_of}"
               + (f" · bundled ${entry.bundled.usd}" if entry.bundled and
                  entry.bundled.usd != current.usd else ""))
    with st.form(f"{key}:override", border=True):
        c1, c2 = st.columns([1, 3])
        usd = c1.text_input(
            f"New rate (USD per {entry.effective.unit.replace('_', ' ')})",
            key=f"{key}:usd", placeholder=str(entry.effective.usd))
        reason = c2.text_input("Reason (required, shown as the source)", key=f"{key}:reason",
                               placeholder="e.g. invoice INV-123 shows $0.14/s since October")
        b1, b2 = st.columns(2)
        save = b1.form_submit_button("Save override", type="primary", icon=":material/save:")
        remove = b2.form_submit_button("Remove override", icon=":material/undo:")
    if save or remove:
        try:
            if save:
                rate = store.set(pick[0], pick[1], usd.strip(), reason=reason, who=_who(studio))
                session.set_flash(key, "success", f"Saved: {names[pick[0]]} {pick[1]} is now "
                                  f"${rate.usd} (team override). Quotes use it from now on.")
            else:
                store.remove(pick[0], pick[1], reason=reason, who=_who(studio))
                session.set_flash(key, "success", f"Removed the override on {names[pick[0]]} "
                                  f"{pick[1]}; quotes use the {entry.bundled.provenance if entry.bundled else 'bundled'} rate again.")
        except ParamError as exc:
            session.set_flash(key, "error", "Not saved: " + " ".join(exc.problems))
        except StudioError as exc:
            session.set_flash(key, "error", f"Not saved: {exc}")
        st.rerun()


def _render_audit(studio: Studio, *, key: str) -> None:
    store = ratebook.OverrideStore(studio.settings.data_dir / "rates")
    try:
        audit = store.audit()
    except StudioError as exc:
        st.error(str(exc))
        return
    st.subheader("Audit trail", divider="gray")
    if not audit:
        st.caption("No overrides yet: every change (who, when, old → new, why) is listed here.")
        return
    names = {m.id: m.display_name for m in catalog.MODELS.values()}
    st.dataframe(pd.DataFrame([{
        "when": a.when, "who": a.who, "model": names.get(a.model_id, a.model_id),
        "tier": a.tier, "old_usd": _usd(a.old_usd), "new_usd": _usd(a.new_usd) or "(removed)",
        "reason": a.reason,
    } for a in audit]), hide_index=True, width="stretch", key=f"{key}:audit")


def _usd(value: Decimal | str | None) -> str:
    return "" if value is None else f"${value}"


__all__ = ["live_pricing", "load_rate_book", "render_rates"]
