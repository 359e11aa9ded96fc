"""Settings: keys, base URLs, data directory and sandbox mode, read once from a mapping.

The app builds one :class:`Settings` from ``st.secrets`` merged over the environment; the
CLI and tests build it from ``os.environ`` or a plain dict. The core reads only what it is
given. API keys live in :class:`Secret` wrappers whose ``repr``/``str`` never show the key.

Per provider: a configured key means *live* (talk to the real service at its base URL);
no key means *sandbox* (the local emulator; the app starts one unless a base URL points at
a running sandbox).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from studio.errors import ConfigError

OXEN_DEFAULT_URL = "https://hub.oxen.ai"
LTX_DEFAULT_URL = "https://api.ltx.video"
SANDBOX_KEY = "sandbox-local-key"  # not a secret: the sandbox accepts any bearer token
BUDGET_PERIODS = ("day", "week", "month")
MAX_USD_SETTING = Decimal(1_000_000_000)  # the largest cap or threshold that makes sense


class Secret:
    """An API key that never prints itself. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """A short, non-reversible id of the key (first 12 hex of SHA-256), for owners."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _default(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value


def default_data_dir() -> Path:
    """Per-user data directory: ``$XDG_DATA_HOME/video-enhance-studio`` or
    ``~/.local/share/video-enhance-studio``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "video-enhance-studio"


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to talk to providers and keep state.

    Fields:
        oxen_api_key / ltx_api_key: keys (``OXEN_API_KEY``, ``LTXV_API_KEY``) or ``None``.
        oxen_base_url / ltx_base_url: explicit base URLs (``OXEN_BASE_URL``, ``LTX_BASE_URL``)
            or ``None`` for the default (the real service when live, an auto-started sandbox
            otherwise).
        oxen_namespace: namespace that owns uploads and is billed (``OXEN_NAMESPACE``);
            required for live uploads, ignored by the sandbox.
        oxen_upload_repo: repo that receives uploaded source clips (``OXEN_UPLOAD_REPO``).
        data_dir: where the job store, downloads and previews live (``STUDIO_DATA_DIR``).
        display_name: optional owner display name (``STUDIO_USER``).
        database_url: the store's database (``DATABASE_URL``): generations and the team's
            state (caps, overrides, presets, plans), e.g. ``postgresql://…`` for several
            replicas sharing one store; ``None`` = SQLite in ``data_dir``. Kept out of
            ``repr`` because it may carry a password.
        rate_stale_days: a rate whose as-of date is older than this many days is flagged
            stale on the Rates page (``STUDIO_RATE_STALE_DAYS``, default 180).
        live_pricing_ttl_s: how long a fetched live Oxen ``pricing`` object is reused, in
            seconds (``STUDIO_LIVE_PRICING_TTL_S``, default 600).
        confirm_above_usd: a single submit quoted above this many USD needs an explicit
            confirmation (``STUDIO_CONFIRM_ABOVE_USD``, default 5).
        budget_period: ``"day"``, ``"week"`` or ``"month"`` (``STUDIO_BUDGET_PERIOD``); the
            period budgets apply to, in UTC calendar terms.
        budget_team_usd / budget_owner_usd: default caps in USD for the whole team and for
            each owner (``STUDIO_BUDGET_TEAM_USD``, ``STUDIO_BUDGET_OWNER_USD``); ``None`` =
            no cap. Caps saved from the app (in the store) win.
        oxen_target_namespace: the Oxen user or organisation that stores the outputs and is
            billed (``OXEN_TARGET_NAMESPACE``, sent as ``target_namespace``, oxen.md §3.1,
            §9.1); ``None`` = the key's own user. A request can name another.
        media_workers: threads of this process that download results and make previews
            (``STUDIO_MEDIA_WORKERS``, default 2); 0 leaves that work to
            ``python -m studio worker`` processes sharing the store.
        downloads_per_host: result downloads at once from one host, across every process
            sharing the store (``STUDIO_DOWNLOADS_PER_HOST``, default 2).
        max_result_mb: largest result downloaded, in MB (``STUDIO_MAX_RESULT_MB``, 20480).
        min_free_disk_mb: free space the data disk keeps, in MB (``STUDIO_MIN_FREE_DISK_MB``,
            1024); a download that would go below waits.
        download_min_rate_kbps / download_grace_s: a download must finish within
            ``grace + size / rate`` (``STUDIO_DOWNLOAD_MIN_RATE_KBPS``, 64 KB/s;
            ``STUDIO_DOWNLOAD_GRACE_S``, 60 s), else it is tried again later.
        media_memory_mb: memory cap of the child process that decodes results for previews
            (``STUDIO_MEDIA_MEMORY_MB``, 2048; 0 decodes in this process).
        max_frame_mp: largest EXR frame decoded for a preview, in megapixels
            (``STUDIO_MAX_FRAME_MP``, 67 ≈ 8192×8192).
        download_tries / download_backoff_s: a download failing for a passing reason is
            tried at most this often, waiting ``backoff × 2ⁿ⁻¹`` s (≤ 10 min) in between
            (``STUDIO_DOWNLOAD_TRIES``, 5; ``STUDIO_DOWNLOAD_BACKOFF_S``, 15).
    """

    oxen_api_key: Secret | None = None
    ltx_api_key: Secret | None = None
    oxen_base_url: str | None = None
    ltx_base_url: str | None = None
    oxen_namespace: str | None = None
    oxen_upload_repo: str = "video-enhance-studio-inputs"
    data_dir: Path = field(default_factory=default_data_dir)
    display_name: str | None = None
    database_url: str | None = field(default=None, repr=False)
    rate_stale_days: int = 180
    live_pricing_ttl_s: float = 600.0
    confirm_above_usd: Decimal = Decimal("5")
    budget_period: str = "month"
    budget_team_usd: Decimal | None = None
    budget_owner_usd: Decimal | None = None
    oxen_target_namespace: str | None = None
    media_workers: int = 2
    downloads_per_host: int = 2
    max_result_mb: float = 20480.0
    min_free_disk_mb: float = 1024.0
    download_min_rate_kbps: float = 64.0
    download_grace_s: float = 60.0
    media_memory_mb: int = 2048
    max_frame_mp: float = 67.0
    download_tries: int = 5
    download_backoff_s: float = 15.0

    @classmethod
    def from_mapping(cls, *sources: Mapping[str, Any]) -> Settings:
        """Build from mappings (earlier ones win), e.g. ``(st.secrets, os.environ)``.

        Empty strings count as unset.
        """

        def get(name: str) -> str | None:
            for src in sources:
                try:
                    value = src.get(name)
                except Exception:  # st.secrets raises when no secrets file exists
                    value = None
                if value not in (None, ""):
                    return str(value).strip()
            return None

        def usd(name: str) -> Decimal | None:
            raw = get(name)
            if raw is None:
                return None
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise ConfigError(f"{name} must be an amount in USD such as 25 or 12.50 "
                                  f"(got {raw!r}).") from None
            if not value.is_finite() or value < 0 or value > MAX_USD_SETTING:
                raise ConfigError(f"{name} must be an amount in USD between 0 and "
                                  f"{MAX_USD_SETTING:,} (got {raw!r}).")
            return value

        def number(name: str, default: float) -> float:
            raw = get(name)
            try:
                value = float(raw) if raw is not None else default
            except ValueError:
                raise ConfigError(f"{name} must be a number (got {raw!r}).") from None
            if value < 0:
                raise ConfigError(f"{name} must not be negative (got {raw!r}).")
            return value

        period = (get("STUDIO_BUDGET_PERIOD") or "month").lower()
        if period not in BUDGET_PERIODS:
            raise ConfigError(f"STUDIO_BUDGET_PERIOD must be one of {', '.join(BUDGET_PERIODS)} "
                              f"(got {period!r}).")
        oxen_key, ltx_key = get("OXEN_API_KEY"), get("LTXV_API_KEY")
        data_dir = get("STUDIO_DATA_DIR")
        return cls(
            oxen_api_key=Secret(oxen_key) if oxen_key else None,
            ltx_api_key=Secret(ltx_key) if ltx_key else None,
            oxen_base_url=(get("OXEN_BASE_URL") or "").rstrip("/") or None,
            ltx_base_url=(get("LTX_BASE_URL") or "").rstrip("/") or None,
            oxen_namespace=get("OXEN_NAMESPACE"),
            oxen_upload_repo=get("OXEN_UPLOAD_REPO") or "video-enhance-studio-inputs",
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            display_name=get("STUDIO_USER"),
            database_url=get("DATABASE_URL"),
            rate_stale_days=int(number("STUDIO_RATE_STALE_DAYS", 180)),
            live_pricing_ttl_s=number("STUDIO_LIVE_PRICING_TTL_S", 600.0),
            confirm_above_usd=_default(usd("STUDIO_CONFIRM_ABOVE_USD"), Decimal("5")),
            budget_period=period,
            budget_team_usd=usd("STUDIO_BUDGET_TEAM_USD"),
            budget_owner_usd=usd("STUDIO_BUDGET_OWNER_USD"),
            oxen_target_namespace=get("OXEN_TARGET_NAMESPACE"),
            media_workers=int(number("STUDIO_MEDIA_WORKERS", 2)),
            downloads_per_host=max(1, int(number("STUDIO_DOWNLOADS_PER_HOST", 2))),
            max_result_mb=number("STUDIO_MAX_RESULT_MB", 20480.0),
            min_free_disk_mb=number("STUDIO_MIN_FREE_DISK_MB", 1024.0),
            download_min_rate_kbps=max(0.001, number("STUDIO_DOWNLOAD_MIN_RATE_KBPS", 64.0)),
            download_grace_s=number("STUDIO_DOWNLOAD_GRACE_S", 60.0),
            media_memory_mb=int(number("STUDIO_MEDIA_MEMORY_MB", 2048)),
            max_frame_mp=number("STUDIO_MAX_FRAME_MP", 67.0),
            download_tries=max(1, int(number("STUDIO_DOWNLOAD_TRIES", 5))),
            download_backoff_s=number("STUDIO_DOWNLOAD_BACKOFF_S", 15.0),
        )

    @classmethod
    def from_env(cls) -> Settings:
        return cls.from_mapping(os.environ)

    def is_live(self, provider: str) -> bool:
        """True when ``provider`` (``"oxen"``/``"ltx"``) has a key, i.e. talks to the real API."""
        return bool(self.oxen_api_key if provider == "oxen" else self.ltx_api_key)

    @property
    def needs_sandbox(self) -> bool:
        """True when some provider runs against a sandbox that nobody gave us a URL for."""
        return (not self.is_live("oxen") and not self.oxen_base_url) or (
            not self.is_live("ltx") and not self.ltx_base_url
        )

    @property
    def mode_label(self) -> str:
        """``"Sandbox"``, ``"Live"`` or a mix such as ``"Live (Oxen) · Sandbox (LTX)"``."""
        oxen, ltx = self.is_live("oxen"), self.is_live("ltx")
        if oxen and ltx:
            return "Live"
        if not oxen and not ltx:
            return "Sandbox"
        return "Live (Oxen) · Sandbox (LTX)" if oxen else "Sandbox (Oxen) · Live (LTX)"

    def download_limits(self) -> Any:
        """The bounds of a result download (:class:`studio.tracking.downloads.DownloadLimits`)
        from these settings."""
        from studio.tracking.downloads import DownloadLimits

        mb = 1 << 20
        return DownloadLimits(
            max_bytes=int(self.max_result_mb * mb), min_free_bytes=int(self.min_free_disk_mb * mb),
            min_rate_bps=self.download_min_rate_kbps * 1024, grace_s=self.download_grace_s,
            max_frame_pixels=int(self.max_frame_mp * 1e6))

    def secrets(self) -> tuple[Secret, ...]:
        """Every configured key (to scrub from provider text)."""
        return tuple(k for k in (self.oxen_api_key, self.ltx_api_key) if k)

    def key_for(self, provider: str) -> Secret:
        """The key to send: the configured one, or the sandbox's placeholder."""
        key = self.oxen_api_key if provider == "oxen" else self.ltx_api_key
        return key or Secret(SANDBOX_KEY)

    def base_url_for(self, provider: str, sandbox_url: str | None = None) -> str:
        """Base URL for ``provider``: explicit setting, else the real service when live,
        else ``sandbox_url`` (raises ``ConfigError`` if no sandbox is running)."""
        explicit = self.oxen_base_url if provider == "oxen" else self.ltx_base_url
        if explicit:
            return explicit
        if self.is_live(provider):
            return OXEN_DEFAULT_URL if provider == "oxen" else LTX_DEFAULT_URL
        if sandbox_url:
            return sandbox_url
        raise ConfigError(
            f"No {provider.upper()} API key is set and no sandbox is running. Start one with "
            "`python -m sandbox --port 8765` and set "
            f"{'OXEN_BASE_URL' if provider == 'oxen' else 'LTX_BASE_URL'}, or set a key."
        )

    def owner(self) -> str:
        """Owner id stored on jobs: a fingerprint of the Oxen (else LTX, else sandbox) key."""
        key = self.oxen_api_key or self.ltx_api_key or Secret(SANDBOX_KEY)
        return key.fingerprint()
