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
from studio import models, ratebook
from studio.errors import ConfigError, ParamError, StudioError
from studio.money import exact
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
    for spec in models.MODELS.values():
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
    return ratebook.load_book(studio.store, live=live or None)


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
    stale = int(frame["Stale"].sum()) if len(frame) else 0
    c1, c2, c3 = st.columns(3)
    c1.metric("Rates", len(frame))
    c2.metric("Team overrides", int((frame["From"] == "override").sum()) if len(frame) else 0)
    c3.metric(f"Stale (> {s.rate_stale_days} days)", stale,
              help="As-of date older than STUDIO_RATE_STALE_DAYS.")
    st.dataframe(
        frame, width="stretch", hide_index=True, key=f"{key}:table",
        column_config={
            "Source": st.column_config.LinkColumn("Source"),
            "Stale": st.column_config.CheckboxColumn("Stale"),
            "Live ≠ bundled": st.column_config.CheckboxColumn("Live ≠ bundled"),
            "From": st.column_config.TextColumn(
                help="live · published · proxy · override: where the rate quotes use comes "
                     "from."),
            "Rate": st.column_config.TextColumn(help="What quotes use now, every digit."),
        })
    st.caption("Provenance: " + " · ".join(f"{BADGE[k]}" for k in
                                           ("live", "published", "proxy", "override")))
    _render_override_editor(studio, entries, key=key)
    _render_audit(studio, key=key)


def rate_text(usd: Decimal, unit: str) -> str:
    """A rate at full precision: ``$0.1494`` per unit, or ``×2`` for a factor."""
    return f"×{usd}" if unit == "factor" else exact(usd)


def unit_text(unit: str) -> str:
    """``"per output second"``, ``"multiplier"``."""
    return "multiplier" if unit == "factor" else f"per {ratebook.UNIT_LABELS.get(unit, unit)}"


def _entries_frame(entries: list[Any]) -> pd.DataFrame:
    """The rate table with human headers; every amount at full precision."""
    names = {m.id: m.display_name for m in models.MODELS.values()}
    rows = []
    for e in entries:
        r = e.effective
        rows.append({
            "Model": names.get(r.model_id, r.model_id), "Tier": r.tier,
            "Rate": rate_text(r.usd, r.unit), "Unit": unit_text(r.unit),
            "From": r.provenance,
            "Bundled": rate_text(e.bundled.usd, r.unit) if e.bundled else "",
            "Live": rate_text(e.live.usd, r.unit) if e.live else "",
            "Live ≠ bundled": bool(e.live_differs),
            "As of": r.as_of, "Stale": bool(e.stale), "Confidence": r.confidence,
            "Source": r.source_url, "How it was derived": r.derivation,
        })
    return pd.DataFrame(rows)


def _render_override_editor(studio: Studio, entries: list[Any], *, key: str) -> None:
    st.subheader("Team overrides", divider="gray")
    live, _errors = live_pricing(studio)
    store = ratebook.OverrideStore(studio.store, live=live)
    flash = session.flash(key)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    names = {m.id: m.display_name for m in models.MODELS.values()}
    choices = [(e.effective.model_id, e.effective.tier) for e in entries]
    by_choice = {(e.effective.model_id, e.effective.tier): e for e in entries}
    # The rate is picked outside the form so its current value and unit show at once.
    pick = st.selectbox(
        "Rate", choices, format_func=lambda c: f"{names.get(c[0], c[0])} · {c[1]}",
        key=f"{key}:pick")
    entry = by_choice[pick]
    current = entry.effective
    st.caption(f"Now: {rate_text(current.usd, current.unit)} {unit_text(current.unit)} · "
               f"{current.provenance} · as of {current.as_of}"
               + (f" · bundled {rate_text(entry.bundled.usd, current.unit)}"
                  if entry.bundled and entry.bundled.usd != current.usd else ""))
    with st.form(f"{key}:override", border=True):
        c1, c2 = st.columns([1, 3])
        usd = c1.text_input(
            f"New rate (USD {unit_text(entry.effective.unit)})"
            if entry.effective.unit != "factor" else "New multiplier",
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
                                  f"{rate_text(rate.usd, rate.unit)} (team override). Quotes "
                                  "use it from now on, in every app process sharing this "
                                  "store.")
            else:
                store.remove(pick[0], pick[1], reason=reason, who=_who(studio))
                session.set_flash(key, "success", f"Removed the override on {names[pick[0]]} "
                                  f"{pick[1]}; quotes use the {entry.bundled.provenance if entry.bundled else 'bundled'} rate again.")
        except ParamError as exc:
            session.set_flash(key, "error", "Not saved: " + " ".join(exc.problems))
        except StudioError as exc:
            session.set_flash(key, "error", f"Not saved: {exc}")
        st.rerun()


def audit_frame(audit: list[ratebook.AuditEntry]) -> pd.DataFrame:
    """The audit trail with human headers: the rate before each change (for a first
    override, the live or bundled rate it replaced), the rate after, every digit."""
    names = {m.id: m.display_name for m in models.MODELS.values()}
    bundled = {(r.model_id, r.tier): r for r in ratebook.bundled_rates()}
    rows = []
    for a in audit:
        base = bundled.get((a.model_id, a.tier))
        unit = base.unit if base else "output_second"
        if a.old_usd is not None:
            kind = a.old_provenance or "override"
            old = f"{rate_text(a.old_usd, unit)} ({kind})"
        elif base is not None:  # a first-release line: it recorded no earlier override
            old = f"{rate_text(base.usd, unit)} ({base.provenance}, bundled today)"
        else:
            old = ""
        rows.append({
            "When (UTC)": a.when.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            "Who": a.who, "Model": names.get(a.model_id, a.model_id), "Tier": a.tier,
            "Change": a.action, "Before": old,
            "After": rate_text(a.new_usd, unit) if a.new_usd is not None else "(removed)",
            "Reason": a.reason,
        })
    return pd.DataFrame(rows)


def _render_audit(studio: Studio, *, key: str) -> None:
    store = ratebook.OverrideStore(studio.store)
    try:
        audit = store.audit()
    except StudioError as exc:
        st.error(str(exc))
        return
    st.subheader("Audit trail", divider="gray")
    if not audit:
        st.caption("No overrides yet: every change (who, when, before → after, why) is "
                   "listed here.")
        return
    st.dataframe(audit_frame(audit), hide_index=True, width="stretch", key=f"{key}:audit")
    st.caption("Append-only: the store refuses to edit or delete an audit line.")


__all__ = ["live_pricing", "load_rate_book", "render_rates"]
