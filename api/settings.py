"""The one settings object: every configuration value is read here, from `MOTCUA_*` variables."""

from datetime import time
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    token_hours: float = Field(default=12, gt=0, le=24 * 30)
    # How long a worker trusts a token it has checked; another worker serves a revoked token that long (0: never).
    principal_cache_seconds: float = Field(default=30, ge=0, le=3600)
    max_request_bytes: int = 12 * 1024 * 1024
    lookup_rate_limit: str = "30/minute"
    scheduler: Literal["off", "embedded"] = "off"
    nightly_hour: int = Field(default=1, ge=0, le=23)
    nightly_catch_up_days: int = Field(default=31, ge=1, le=366)
    par_on_time_max_points: float = 1.0
    par_on_time_bands: str | None = None  # e.g. "0.98:1,0.95:0.75,0.9:0.5"; empty: proportional
    # Event time policy (docs/event-time.md): an instant further back needs a manager or an admin, and a reason.
    backdate_grace_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # An apology's new due: at most this many times the procedure's own allotment after the original due.
    apology_max_extension: float = Field(default=1.0, gt=0, le=10)

    @field_validator("par_on_time_bands")
    @classmethod
    def _check_bands(cls, value: str | None) -> str | None:
        ParScoring.parse(1.0, value)
        return value

    @property
    def par_scoring(self) -> ParScoring:
        return ParScoring.parse(self.par_on_time_max_points, self.par_on_time_bands)

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
