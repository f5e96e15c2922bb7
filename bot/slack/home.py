"""The App Home tab: a member's ``Dashboard`` as Block Kit, within Slack's limits.

Each panel is a header, its items (a section each, with their buttons under them) and, when
not all fit, a line naming the command that lists the rest. The shortcuts come first, as
buttons that start the same flows as the commands (a modal where the command has one).
"""

from __future__ import annotations

from typing import Any

from bot.core import Dashboard, Panel
from bot.i18n import N_, _
from bot.slack.render import (
    ACTION_PREFIX,
    MAX_ACTIONS,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    Renderer,
    split_escaped,
)

# The shortcut buttons' action ids: "oppbot_cmd.<command>"; the value is the command's name.
SHORTCUT_PREFIX = "oppbot_cmd."
MAX_HEADER = 150
HELP_HINT = N_("Everything else: {help}")


def _button(label: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label[:MAX_BUTTON_TEXT], "emoji": True},
        "action_id": action_id,
        "value": value,
    }


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:MAX_HEADER]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": split_escaped(text)[0]}]}


def _section(text: str) -> dict[str, Any]:
    pieces = split_escaped(text)
    # An item is one line; one longer than a section holds is cut, never split in two.
    shown = pieces[0] if len(pieces) == 1 else pieces[0][:-1].rstrip() + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": shown}}


def home_view(dashboard: Dashboard, renderer: Renderer) -> dict[str, Any]:
    """The home view of ``dashboard``: at most ``MAX_BLOCKS`` blocks however much is waiting."""
    blocks: list[dict[str, Any]] = [_header(dashboard.title)]
    if dashboard.shortcuts:
        buttons = [
            _button(label, f"{SHORTCUT_PREFIX}{command}", command)
            for label, command in dashboard.shortcuts[:MAX_ACTIONS]
        ]
        blocks.append({"type": "actions", "elements": buttons})
    footer = _context(renderer.wording(_(HELP_HINT, help="/help")))
    # Each later panel needs at least its divider, header and one line; the footer one block.
    for p, panel in enumerate(dashboard.panels):
        reserve = 3 * (len(dashboard.panels) - p - 1) + 1
        blocks += _panel(panel, p, renderer, MAX_BLOCKS - len(blocks) - reserve)
    blocks.append(footer)
    return {"type": "home", "blocks": blocks}


def _panel(panel: Panel, p: int, renderer: Renderer, room: int) -> list[dict[str, Any]]:
    blocks = [{"type": "divider"}, _header(panel.title)]
    if not panel.count:
        return [*blocks, _context(renderer.wording(panel.empty or _("Nothing here.")))]
    shown = 0
    for i, item in enumerate(panel.items):
        needed = 1 + (1 if item.buttons else 0)
        # The line saying how many more there are needs a block of its own.
        if len(blocks) + needed + (1 if panel.count > i + 1 else 0) > room:
            break
        blocks.append(_section(renderer.wording(item.text)))
        if item.buttons:
            elements = [
                _button(b.label, f"{ACTION_PREFIX}home.{p}.{i}.{j}", b.payload)
                for j, b in enumerate(item.buttons[:MAX_ACTIONS])
            ]
            blocks.append({"type": "actions", "elements": elements})
        shown += 1
    if panel.count > shown:
        left = panel.count - shown
        more = (
            _("…and {count} more: {command}", count=left, command="/" + panel.more)
            if panel.more
            else _("…and {count} more.", count=left)
        )
        blocks.append(_context(renderer.wording(more)))
    return blocks
