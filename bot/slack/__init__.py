"""The Slack adapter, in parts: ``adapter`` (Bolt's app and its listeners), ``requests`` (what
is accepted from Slack, and how it is checked), ``render`` (replies as Block Kit, and what
people type), ``forms`` (modals), ``files`` (shared files fetched) and ``transport`` (the Web
API clients and the outbox's sender). What the rest of the bot uses is named here.
"""

from bot.slack.adapter import EVENTS_PATH, SlackAdapter
from bot.slack.forms import ANNOUNCE
from bot.slack.render import (
    MAX_SECTION_TEXT,
    SLASH_COMMAND,
    Renderer,
    command_text,
    from_mrkdwn,
    split_escaped,
    to_mrkdwn,
)
from bot.slack.requests import Refusals
from bot.slack.transport import SlackTransport

__all__ = [
    "ANNOUNCE",
    "EVENTS_PATH",
    "MAX_SECTION_TEXT",
    "SLASH_COMMAND",
    "Refusals",
    "Renderer",
    "SlackAdapter",
    "SlackTransport",
    "command_text",
    "from_mrkdwn",
    "split_escaped",
    "to_mrkdwn",
]
