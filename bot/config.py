"""Settings from ``OPPBOT_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPPBOT_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_URL
    log_level: str = "INFO"

    telegram_token: str | None = None
    # A self-hosted Bot API server or a test server can stand in; "/bot<token>/<method>" follows.
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    telegram_webhook_path: str = "telegram"
    telegram_webhook_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")
    # Telegram's documented ceilings: about 30 messages a second overall, 1 a second per chat.
    telegram_rate: float = Field(default=30.0, gt=0)
    telegram_chat_rate: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _webhook_complete(self) -> Settings:
        if self.telegram_token and self.telegram_mode == "webhook":
            missing = [
                name
                for name in ("telegram_webhook_url", "telegram_webhook_secret")
                if not getattr(self, name)
            ]
            if missing:
                names = ", ".join(f"OPPBOT_{m.upper()}" for m in missing)
                raise ValueError(f"webhook mode needs {names}")
        return self
