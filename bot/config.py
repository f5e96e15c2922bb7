"""Settings from ``OPPBOT_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import logging
from datetime import date, time, timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core import Timing, WorkLimits
from storage.db import DEFAULT_URL
from storage.outbox import QuietHours


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPPBOT_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_URL
    log_level: str = "INFO"
    # "json": one JSON object a line, for a log collector.
    log_format: Literal["text", "json"] = "text"
    # Where /healthz, /readyz and /metrics are served besides the webhook's and Slack's HTTP
    # ports (when polling or in Socket Mode there is no other); unset: no separate port.
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_listen: str = "0.0.0.0"
    # After SIGTERM: how long to finish the updates in hand and the sends in flight.
    shutdown_grace_seconds: float = Field(default=20.0, gt=0)

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

    slack_bot_token: str | None = None
    # Socket Mode when an app-level token (xapp-...) is set; otherwise HTTP mode, where every
    # request must carry a valid signature made with the signing secret.
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    slack_listen: str = "0.0.0.0"
    slack_port: int = 3000
    # The Web API client's base; tests point it at a loopback fake.
    slack_api_url: str = "https://slack.com/api/"
    # The id of a channel (C0123...) where a teacher's posts get a "Send to students" button.
    slack_announce_channel: str | None = None
    # Slack allows about one message a second per channel; the workspace-wide pace is ours to
    # choose, kept well below where chat.postMessage starts answering "ratelimited".
    slack_rate: float = Field(default=10.0, gt=0)
    slack_channel_rate: float = Field(default=1.0, gt=0)

    # Deadline reminders: days before the deadline ("7,1"), at this local time.
    reminder_offsets_days: Annotated[list[int], NoDecode] = [7, 1]
    reminder_time: time = time(9, 0)
    # Nothing reaches a student between these local times; it waits for the end of the window.
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    # A reminder found due later than this (the bot was down) is marked missed instead of sent.
    reminder_grace_minutes: int = Field(default=60, ge=0)
    digest_time: time = time(16, 0)
    # An employer who has not answered a match notification after this many days gets one nudge.
    employer_nudge_days: int = Field(default=3, ge=1)
    # Placement feedback: asked at this local time, asked again once after this many days.
    feedback_time: time = time(16, 0)
    feedback_remind_days: int = Field(default=3, ge=1)
    # A student's question nobody answered is raised again after this many school days.
    question_raise_school_days: int = Field(default=1, ge=1)
    # Under-16s working more than this on a school day, or in a school week, warn the teacher.
    under16_school_day_hours: float = Field(default=3.0, gt=0)
    under16_school_week_hours: float = Field(default=18.0, gt=0)
    # How often the scheduler looks for due reminders and digests, and re-checks deadlines.
    reminder_poll_seconds: float = Field(default=30.0, gt=0)
    digest_poll_seconds: float = Field(default=300.0, gt=0)
    reconcile_minutes: float = Field(default=15.0, gt=0)
    # How soon a big listings file sent to the bot starts importing in the background.
    import_poll_seconds: float = Field(default=5.0, gt=0)
    # Handled Telegram update and Slack event ids are remembered this many days, to skip
    # redeliveries; under a week, after which Telegram may number its updates afresh.
    handled_events_days: int = Field(default=3, ge=1, le=6)
    # The school year's first day, MM-DD; it ends the day before the next one starts.
    school_year_start: str = "09-01"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return level

    # Employers' job boards (sources): the providers' public API bases (tests use loopback
    # fakes), how often each source is synced, how often due ones are looked for, and how
    # long one request may take.
    greenhouse_api_url: str = "https://boards-api.greenhouse.io"
    lever_api_url: str = "https://api.lever.co"
    ashby_api_url: str = "https://api.ashbyhq.com"
    smartrecruiters_api_url: str = "https://api.smartrecruiters.com"
    sources_sync_hours: float = Field(default=6.0, gt=0)
    sources_poll_seconds: float = Field(default=60.0, gt=0)
    sources_timeout_seconds: float = Field(default=20.0, gt=0)

    @field_validator("school_year_start")
    @classmethod
    def _month_day(cls, value: str) -> str:
        month, _, day = value.strip().partition("-")
        try:
            # A leap year, so that no real day is refused (29 February still makes no sense).
            date(2024, int(month), int(day))
        except ValueError:
            raise ValueError("give the month and day as MM-DD, like 09-01") from None
        if month + day == "0229" or not (len(month) == len(day) == 2):
            raise ValueError("give the month and day as MM-DD, like 09-01")
        return value.strip()

    @field_validator("reminder_offsets_days", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("reminder_offsets_days")
    @classmethod
    def _positive_days(cls, value: list[int]) -> list[int]:
        if any(days < 0 for days in value):
            raise ValueError("reminder offsets are days before the deadline: 0 or more")
        return sorted(set(value), reverse=True)

    def timing(self) -> Timing:
        return Timing(
            reminder_offsets_days=tuple(self.reminder_offsets_days),
            reminder_at=self.reminder_time,
            quiet=QuietHours(self.quiet_start, self.quiet_end),
            grace=timedelta(minutes=self.reminder_grace_minutes),
            digest_at=self.digest_time,
            feedback_at=self.feedback_time,
            feedback_remind_after=timedelta(days=self.feedback_remind_days),
            question_raise_after_days=self.question_raise_school_days,
            work_limits=WorkLimits(self.under16_school_day_hours, self.under16_school_week_hours),
            events_kept=timedelta(days=self.handled_events_days),
            school_year_start=(
                int(self.school_year_start[:2]),
                int(self.school_year_start[3:]),
            ),
        )

    @property
    def sources_every(self) -> timedelta:
        return timedelta(hours=self.sources_sync_hours)

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

    @model_validator(mode="after")
    def _slack_mode_chosen(self) -> Settings:
        if self.slack_bot_token and not (self.slack_app_token or self.slack_signing_secret):
            raise ValueError(
                "Slack needs OPPBOT_SLACK_APP_TOKEN (Socket Mode) "
                "or OPPBOT_SLACK_SIGNING_SECRET (HTTP mode)"
            )
        return self

    @property
    def slack_mode(self) -> Literal["socket", "http"]:
        return "socket" if self.slack_app_token else "http"
