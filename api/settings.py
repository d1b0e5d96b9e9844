"""The one settings object: every configuration value is read here, from `MOTCUA_*` variables."""

from datetime import time
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.edge import Networks, parse_networks
from api.limits import check_rate
from sla.core.hours import parse_working_hours
from sla.core.rates import ParScoring


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./motcua.db"
    time_zone: str = "Asia/Ho_Chi_Minh"
    working_hours: str = "08:00-12:00,13:00-17:00"
    calendar_first_year: int = 2015
    calendar_last_year: int = 2035
    default_page_size: int = 20
    max_page_size: int = 200
    max_upload_bytes: int = 10 * 1024 * 1024
    import_max_rows: int = Field(default=200_000, ge=1)
    import_max_uncompressed_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)  # an XLSX's members, expanded
    import_max_json_depth: int = Field(default=20, ge=2, le=200)
    token_hours: float = Field(default=12, gt=0, le=24 * 30)
    # How long a worker trusts a token it has checked; another worker serves a revoked token that long (0: never).
    principal_cache_seconds: float = Field(default=30, ge=0, le=3600)
    max_request_bytes: int = 12 * 1024 * 1024
    # Sign-in throttling (per username; per client address with its own counts): see accounts/throttle.py.
    sign_in_free_attempts: int = Field(default=5, ge=0)
    sign_in_delay_seconds: float = Field(default=1, gt=0, le=3600)  # after the free attempts; doubles each failure
    sign_in_lock_after: int = Field(default=10, ge=1)
    sign_in_lock_minutes: float = Field(default=15, gt=0, le=24 * 60)
    sign_in_address_free_attempts: int = Field(default=20, ge=0)
    sign_in_address_lock_after: int = Field(default=50, ge=1)
    secure_cookies: bool = False  # true: the session cookie is Secure even when the request looks like http
    lookup_rate_limit: str = "30/minute"
    lookup_code_failure_limit: str = "10/hour"  # wrong phone digits per dossier code, whatever the address
    redis_url: str | None = None  # shared rate-limit counters in Redis; unset: in the database
    trusted_proxies: str = ""  # addresses/CIDRs whose X-Forwarded-For/-Proto are believed; empty: none
    public_docs: bool = True  # /docs, /redoc and /openapi.json
    scheduler: Literal["off", "embedded"] = "off"
    # `serve --demo`: the synthetic city written into an empty database (dossiers over the months up to now).
    demo_dossiers: int = Field(default=30_000, ge=0, le=1_000_000)
    demo_months: int = Field(default=12, ge=1, le=60)
    demo_seed: int = 0
    nightly_hour: int = Field(default=1, ge=0, le=23)
    nightly_catch_up_days: int = Field(default=31, ge=1, le=366)
    # Housekeeping (api/housekeeping.py): sent messages to citizens are kept this many days (0: for ever).
    message_retention_days: int = Field(default=365, ge=0, le=3650)
    par_on_time_max_points: float = 1.0
    par_on_time_bands: str | None = None  # e.g. "0.98:1,0.95:0.75,0.9:0.5"; empty: proportional
    # Event time policy (docs/event-time.md): an instant further back needs a manager or an admin, and a reason.
    backdate_grace_minutes: int = Field(default=30, ge=0, le=24 * 60)
    on_time_target: float = Field(default=0.95, gt=0, le=1)  # the dashboard charts' target line
    # An apology's new due: at most this many times the procedure's own allotment after the original due.
    apology_max_extension: float = Field(default=1.0, gt=0, le=10)
    # The national exchange (docs/exchange.md): the gateway's base URL (empty: no sync), its token, how often.
    exchange_url: str = ""
    exchange_token: str = ""
    exchange_interval_minutes: float = Field(default=10, gt=0, le=24 * 60)
    exchange_timeout_seconds: float = Field(default=30, gt=0, le=600)
    exchange_retries: int = Field(default=2, ge=0, le=10)  # more tries of one request within a run
    exchange_retry_seconds: float = Field(default=2, ge=0, le=600)  # the first backoff; doubles each try
    exchange_batch: int = Field(default=500, ge=1, le=100_000)  # dossiers a run takes at most
    # Messages (notify/): the links they carry, and the providers the dispatcher sends through.
    public_url: str = ""  # the public site's base URL in messages (lookup, rating); empty: the request's own
    smtp_url: str | None = None  # smtp://user:password@host:587?starttls=true, smtps://host:465; empty: no email
    smtp_from: str = "motcua@localhost"
    sms_webhook_url: str | None = None  # the SMS gateway: a JSON POST per message, signed (X-Motcua-Signature)
    zalo_webhook_url: str | None = None  # the Zalo gateway, the same way
    webhook_secret: str = ""  # the HMAC-SHA256 key of the gateways' signature header
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_backoff_seconds: float = Field(default=60, gt=0, le=24 * 3600)  # doubles each failure
    notify_batch_size: int = Field(default=500, ge=1, le=100_000)
    citizen_hours: str = "07:00-21:00"  # when citizens may be written to (local time, every day)
    digest_hour: int = Field(default=7, ge=0, le=23)  # the daily email digest per user, local time

    @field_validator("citizen_hours")
    @classmethod
    def _check_citizen_hours(cls, value: str) -> str:
        periods = parse_working_hours(value)
        if len(periods) != 1:
            raise ValueError("citizen_hours is one period, e.g. 07:00-21:00")
        return value

    @property
    def citizen_window(self) -> tuple[time, time]:
        return parse_working_hours(self.citizen_hours)[0]

    @field_validator("par_on_time_bands")
    @classmethod
    def _check_bands(cls, value: str | None) -> str | None:
        ParScoring.parse(1.0, value)
        return value

    @property
    def par_scoring(self) -> ParScoring:
        return ParScoring.parse(self.par_on_time_max_points, self.par_on_time_bands)

    @field_validator("lookup_rate_limit", "lookup_code_failure_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        check_rate(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def trusted_networks(self) -> Networks:
        return parse_networks(self.trusted_proxies)

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, value: str) -> str:
        parse_working_hours(value)
        return value

    @property
    def working_periods(self) -> tuple[tuple[time, time], ...]:
        return parse_working_hours(self.working_hours)


@lru_cache
def get_settings() -> Settings:
    return Settings()
