"""Logging for ``oppbot``: to standard error, and never a token, a secret or what people wrote.

Two layers. Libraries that log whole requests are held above the levels where they do it:
httpx logs every Bot API URL at INFO, and the URL carries the bot token; python-telegram-bot
and slack_sdk log every request's parameters (message texts, chat ids) at DEBUG. And every
record that reaches the handler passes a filter that replaces the configured secrets, and
anything shaped like a Telegram or Slack token, wherever it appears: message, arguments,
traceback.

``OPPBOT_LOG_FORMAT=json`` writes one JSON object a line (time, level, logger, message, and
the Telegram update id or the Slack request id the record was written while handling, from
context variables the adapters set), for log collectors; redaction applies to it just the same.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings

REDACTED = "[redacted]"

# What is being handled, for every record written meanwhile (asyncio tasks and worker threads
# started from there inherit it): set by the adapters, never anything a person wrote.
update_id: ContextVar[str | None] = ContextVar("update_id", default=None)
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Logger -> the most detailed level it may log at, whatever level the operator chose.
QUIETED = {
    # "HTTP Request: POST https://api.telegram.org/bot<token>/sendMessage" at INFO.
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    # Every Bot API call with its parameters, every update received, at DEBUG.
    "telegram": logging.INFO,
    # Every Web API request and response body, every incoming request body, at DEBUG.
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    # Our Slack server and the fakes keep no access log, but aiohttp's client and server
    # errors may quote a request; tornado (Telegram's webhook server) logs each request.
    "aiohttp.access": logging.WARNING,
    "tornado.access": logging.WARNING,
}

# Shapes of tokens, also ones that are not configured here (a second bot, a pasted token).
_TOKEN_SHAPES = re.compile(
    r"\b\d{4,}:[A-Za-z0-9_-]{20,}"  # a Telegram bot token: the bot's id, a colon, the secret
    r"|(?<=bot)\d+:[A-Za-z0-9_-]+"  # a token in a Bot API URL (".../bot<token>/sendMessage")
    r"|\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+"  # Slack bot, user and app-level tokens
)
# A secret shorter than this is not replaced word by word (it would mangle ordinary words);
# settings validation does not stop an operator from choosing one, but it is still no secret.
_MIN_SECRET = 6


def secrets(settings: Settings) -> list[str]:
    """The configured values that must never be written to a log."""
    values = [
        settings.telegram_token,
        settings.telegram_webhook_secret,
        settings.slack_bot_token,
        settings.slack_app_token,
        settings.slack_signing_secret,
    ]
    # An unparsable URL fails later, with its own message.
    with contextlib.suppress(ArgumentError):
        values.append(make_url(settings.database_url).password)
    found = [str(v) for v in values if v]
    if settings.telegram_token and ":" in settings.telegram_token:
        # The part after the colon is the secret, also where the bot's id is left out.
        found.append(settings.telegram_token.split(":", 1)[1])
    return found


class Redact(logging.Filter):
    """Replaces secrets in every record it sees; the record is changed for every handler."""

    def __init__(self, secret_values: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a token is replaced whole before its secret part is looked for.
        unique = sorted({s for s in secret_values if len(s) >= _MIN_SECRET}, key=len, reverse=True)
        parts = [re.escape(s) for s in unique] + [_TOKEN_SHAPES.pattern]
        self._pattern = re.compile("|".join(parts))

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is reported by the handler as usual
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # The formatter prints exc_text as it is once it is set.
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback goes in ``exc_info`` as text, never across lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in (("update_id", update_id), ("request_id", request_id)):
            value = var.get()
            if value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class Handler(logging.StreamHandler[TextIO]):
    """Ours, so that configuring again replaces it instead of adding a second one."""


class _StderrHandler(Handler):
    """Standard error as it is when a record comes (a test or a host may have replaced it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        # handle() holds the handler's lock here, so no other record sees the switch halfway.
        self.stream = sys.stderr
        super().emit(record)


def configure(settings: Settings, stream: TextIO | None = None) -> None:
    """Log at the configured level to ``stream`` (standard error), with secrets redacted."""
    level = logging.getLevelName(settings.log_level)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, Handler)]:
        root.removeHandler(old)
    # The console chat owns standard output; logs go to standard error.
    handler = _StderrHandler() if stream is None else Handler(stream)
    handler.setFormatter(
        JsonFormatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(Redact(secrets(settings)))
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in QUIETED.items():
        logging.getLogger(name).setLevel(max(level, floor))
