"""Budget in the UI: the sidebar panel that shows spend against each cap and edits the caps,
and the banner every page shows at 80 %.

The guard itself is in the core (:mod:`studio.budget`, enforced by ``Studio.submit``); this
only shows it and saves the caps in the store's database, where every app process sharing
it (replicas on one PostgreSQL) applies them at once.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from components import session
from studio.budget import BUDGET_PERIODS, BudgetConfig, BudgetStatus
from studio.errors import ConfigError, ParamError
from studio.money import cents
from studio.service import Studio

PERIOD_LABELS = {"day": "Day", "week": "Week (Mon–Sun)", "month": "Calendar month"}


def load_budget(studio: Studio) -> tuple[BudgetConfig, BudgetStatus] | str:
    """The caps and this period's spend against them, read once per run for the banner and
    the sidebar; or the sentence saying why the saved budget cannot be read (the page goes
    on; a submit is then refused by the core with the same sentence)."""
    try:
        return studio.budget_config(), studio.budget_status()
    except ConfigError as exc:
        return str(exc)
    except ArithmeticError as exc:  # a number the guard cannot use: say so, keep the page
        return f"The budget cannot be computed ({exc}); save the caps again in the sidebar."


def render_budget_banner(budget: tuple[BudgetConfig, BudgetStatus] | str) -> None:
    """At 80 % of any cap: a warning at the top of the page (an error once a cap is
    reached). Nothing when no cap is set or spend is below 80 %."""
    if isinstance(budget, str):
        st.error(budget)
        return
    status = budget[1]
    if not status.warn:
        return
    reached = any(line.spent.total >= line.cap for line in status.lines)
    (st.error if reached else st.warning)(status.message, icon=":material/savings:")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def render_budget_sidebar(studio: Studio, budget: tuple[BudgetConfig, BudgetStatus] | str,
                          *, key: str = "budget") -> None:
    """Spend against each cap, and a form to change the period and caps (USD)."""
    if isinstance(budget, str):
        st.error(budget)
        return
    config, status = budget
    flash = st.session_state.pop(f"{key}:flash", None)
    if flash and flash[0] == "ok":
        st.toast(flash[1], icon=":material/savings:")
    # A fixed label: a label that changed with the status would make a new, closed expander.
    with st.expander("Budget", expanded=status.warn, icon=":material/savings:"):
        if not status.lines:
            st.caption("No cap set: spend is not limited. Set one below.")
        for line in status.lines:
            frac = line.fraction
            st.progress(min(1.0, frac if frac is not None else 1.0),
                        text=f"{line.name.capitalize()}: {cents(line.spent.total)} of "
                             f"{cents(line.cap)} ({line.percent()})")
            st.caption(f"{status.period.label} · {line.spent.breakdown} · "
                       f"{cents(line.left)} left")
        if flash and flash[0] != "ok":
            st.error(flash[1])
        with st.form(f"{key}:form", border=False):
            period = st.selectbox("Period", BUDGET_PERIODS,
                                  index=BUDGET_PERIODS.index(config.period),
                                  format_func=PERIOD_LABELS.__getitem__, key=f"{key}:period")
            team = st.text_input("Team cap (USD)", value=_text(config.team_usd),
                                 key=f"{key}:team", placeholder="no cap",
                                 help="Everyone's charged + in-flight spend in the period.")
            owner = st.text_input("Per-person cap (USD)", value=_text(config.default_owner_usd),
                                  key=f"{key}:owner", placeholder="no cap",
                                  help="Each API key's own spend in the period.")
            me = studio.settings.owner()
            mine = st.text_input(
                "Your own cap (USD)", value=_text(config.owner_usd.get(me)) if me in
                config.owner_usd else "", key=f"{key}:mine", placeholder="the per-person cap",
                help=f"Replaces the per-person cap for your API key (key fingerprint "
                     f"{me[:8]}…); blank = the per-person cap applies.")
            saved = st.form_submit_button("Save budget", icon=":material/save:")
        st.caption(f"A single submit above {cents(studio.settings.confirm_above_usd)} asks for "
                   "confirmation (STUDIO_CONFIRM_ABOVE_USD). Caps are shared by everyone "
                   "using this store.")
    if saved:
        try:
            owners = {k: v for k, v in config.owner_usd.items() if k != me}
            if mine.strip():
                owners[me] = mine.strip()
            who = session.display_name() or f"key {me[:8]}"
            studio.budget_store().save(period=period, team_usd=team.strip() or None,
                                       default_owner_usd=owner.strip() or None,
                                       owner_usd=owners, who=who)
            st.session_state[f"{key}:flash"] = ("ok", "Budget saved; it applies to every "
                                                      "page, every app replica and the CLI.")
        except ParamError as exc:
            st.session_state[f"{key}:flash"] = ("error", "Not saved: " + "; ".join(exc.problems))
        except SQLAlchemyError:
            st.session_state[f"{key}:flash"] = ("error", "Not saved: the store could not be "
                                                         "written; try again.")
        st.rerun()
