"""Settings from ``OPPBOT_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPPBOT_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_URL
    log_level: str = "INFO"
