"""Slack's text, both ways: the core's plain replies as Block Kit messages, and what people type.

Replies become sections of escaped mrkdwn (user text can never format as a mention, a link or
<!channel>) under Block Kit's limits, with the plain text as the notification fallback and the
buttons as actions blocks. Commands in the core's wording ("send /browse") read "/oppbot browse"
on Slack, and "/oppbot browse" reaches the core as "/browse".
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core import Button, Capabilities, Registry
from bot.delivery import Buttons

# The one slash command of the app manifest: "/oppbot browse" is the core's "/browse".
SLASH_COMMAND = "/oppbot"
# Block Kit limits (https://docs.slack.dev/reference/block-kit).
MAX_SECTION_TEXT = 3000
MAX_BLOCKS = 50
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
# Several sections make one message, but a reader scrolls past a wall of text: longer replies
# continue in a further message. Far below Slack's 40,000-character message limit.
SECTIONS_PER_MESSAGE = 4
CAPABILITIES = Capabilities(max_text=MAX_SECTION_TEXT, max_button_label=MAX_BUTTON_TEXT)
# Action ids are unique within a message ("oppbot.<row>.<column>"); the value is the payload.
ACTION_PREFIX = "oppbot."
_ESCAPED_WIDTH = {"&": len("&amp;"), "<": len("&lt;"), ">": len("&gt;")}
_SLACK_REFERENCE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def to_mrkdwn(text: str) -> str:
    """Slack's escaping: user text can never format as a mention, link or <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def from_mrkdwn(text: str) -> str:
    """What a person typed, from the encoded text Slack delivers: <@U1>, <url|label>, &amp;."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target[:1] in ("@", "#"):
            return target[0] + label if label else target
        if target.startswith("!"):  # <!here>, <!subteam^S1|@team>
            return label or "@" + target[1:].split("^")[0]
        return label or target.removeprefix("mailto:")

    text = _SLACK_REFERENCE.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_escaped(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Escape ``text`` and cut it into pieces of at most ``limit`` characters *after* escaping,
    at paragraph, line or word ends, never inside an escape sequence."""
    pieces: list[str] = []
    rest = text.strip()
    while len(to_mrkdwn(rest)) > limit:
        escaped_sizes = list(itertools.accumulate(_ESCAPED_WIDTH.get(ch, 1) for ch in rest[:limit]))
        fits = bisect.bisect_right(escaped_sizes, limit)
        window = rest[:fits]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut <= fits // 2:
            cut = fits
        pieces.append(to_mrkdwn(rest[:cut].rstrip()))
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(to_mrkdwn(rest))
    return pieces


def sections(text: str) -> list[dict[str, Any]]:
    """``text`` as mrkdwn section blocks, escaped and cut to Slack's limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in split_escaped(text)
    ]


def command_text(command: str, text: str) -> str:
    """The core's command for a slash command: "/oppbot invite x" is "/invite x"."""
    words = from_mrkdwn(text).strip()
    if command.lower() != SLASH_COMMAND:
        return f"{command} {words}".strip()
    if not words:
        return "/help"
    return "/" + words.removeprefix("/")


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage or chat.update: the blocks and their notification fallback."""

    text: str
    blocks: list[dict[str, Any]]


class Renderer:
    """Turns the core's plain replies into Slack messages.

    Commands in the core's wording ("send /browse") become "/oppbot browse": on Slack a bare
    "/join" would run Slack's own channel command, and "/browse" is no command at all.
    """

    def __init__(self, registry: Registry, slash_command: str = SLASH_COMMAND) -> None:
        words = sorted(
            {w.lower() for c in registry.commands.values() for w in (c.name, *c.aliases)},
            key=len,
            reverse=True,
        )
        names = "|".join(re.escape(w) for w in words if re.fullmatch(r"\w+", w))
        # Only a command word on its own: never "/b" in "</b>" or "/browse" inside a web address.
        self._commands = (
            re.compile(rf"(?<![^\s(\"'“‘])/({names})\b", re.IGNORECASE) if names else None
        )
        self.slash_command = slash_command

    def wording(self, text: str) -> str:
        if self._commands is None:
            return text
        return self._commands.sub(lambda m: f"{self.slash_command} {m.group(1)}", text)

    def render(self, text: str, buttons: Sequence[Sequence[Button]] = ()) -> list[SlackMessage]:
        """Sections of escaped mrkdwn, then the buttons, split over as few messages as fit."""
        blocks = sections(self.wording(text)) + action_blocks(buttons)
        messages: list[list[dict[str, Any]]] = [[]]
        for block in blocks:
            current = messages[-1]
            in_current = sum(b["type"] == "section" for b in current)
            if len(current) == MAX_BLOCKS or (
                block["type"] == "section" and in_current == SECTIONS_PER_MESSAGE
            ):
                messages.append(current := [])
            current.append(block)
        return [SlackMessage(_fallback(m), m) for m in messages if m]


def action_blocks(rows: Sequence[Sequence[Button]]) -> list[dict[str, Any]]:
    """One actions block per row of buttons (a row over 25 buttons continues in the next)."""
    blocks: list[dict[str, Any]] = []
    for r, row in enumerate(rows):
        elements = [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": b.label[:MAX_BUTTON_TEXT], "emoji": True},
                "action_id": f"{ACTION_PREFIX}{r}.{c}",
                "value": b.payload,
            }
            for c, b in enumerate(row)
        ]
        for start in range(0, len(elements), MAX_ACTIONS):
            blocks.append({"type": "actions", "elements": elements[start : start + MAX_ACTIONS]})
    return blocks


def _fallback(blocks: list[dict[str, Any]]) -> str:
    """The text notifications and old clients show: the sections, or else the button labels."""
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    if not texts:
        texts = [", ".join(e["text"]["text"] for b in blocks for e in b["elements"])]
    return "\n\n".join(texts)[:MAX_SECTION_TEXT]


def as_buttons(rows: Buttons | None) -> tuple[tuple[Button, ...], ...]:
    """Outbox buttons ([[label, payload], ...] rows) as the core's ``Button`` rows."""
    return tuple(tuple(Button(label, payload) for label, payload in row) for row in rows or ())
