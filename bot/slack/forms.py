"""Slack modals: a command's free text, or its ``Form``, asked for in a dialog.

A command with a ``Modal`` (``/announce``) or a ``Form`` (``/publish``) run without arguments
opens a modal; what is submitted reaches the core as the command's text ("/announce TEXT", or
the form's "field: value" lines), exactly as if typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core import Field, Form
from bot.slack.requests import ViewState

# The core's command that drafts an announcement ("/announce TEXT" goes straight to the audience).
ANNOUNCE = "announce"
MODAL_PREFIX = "oppbot_modal:"
# The action id of a search field's external select: the prefix and the options' source.
OPTIONS_PREFIX = "oppbot_options:"
# Block Kit limits (https://docs.slack.dev/reference/block-kit).
MAX_MODAL_TITLE = 24
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
# Slack refuses a view whose text input allows more than this, whatever the field's own limit.
MAX_INPUT_LENGTH = 3000
# Radio buttons show every choice at once; a longer list reads better as a menu.
MAX_RADIO_OPTIONS = 5


@dataclass(frozen=True)
class Modal:
    """A command whose free text is better written in a Slack modal than in a chat message.

    Run without arguments by someone allowed to, the command opens the modal; what they submit
    reaches the core as "/<command> <text>", exactly as if typed.
    """

    title: str  # at most 24 characters
    label: str
    placeholder: str
    max_length: int = 2000  # the longest text the core reads

    def view(self, command: str) -> dict[str, Any]:
        return {
            "type": "modal",
            "callback_id": f"{MODAL_PREFIX}{command}",
            "title": {"type": "plain_text", "text": self.title},
            "submit": {"type": "plain_text", "text": "Next"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "text",
                    "label": {"type": "plain_text", "text": self.label},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "text",
                        "multiline": True,
                        "max_length": self.max_length,
                        "placeholder": {"type": "plain_text", "text": self.placeholder},
                    },
                }
            ],
        }


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit]}


def form_view(command: str, form: Form) -> dict[str, Any]:
    """The modal that asks for ``form``'s fields, one input block each."""
    return {
        "type": "modal",
        "callback_id": f"{MODAL_PREFIX}{command}",
        "title": _plain(form.title, MAX_MODAL_TITLE),
        "submit": _plain(form.submit, MAX_MODAL_TITLE),
        "close": _plain("Cancel", MAX_MODAL_TITLE),
        "blocks": [_input_block(f) for f in form.fields],
    }


def _input_block(f: Field) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": f.name,
        "optional": f.optional,
        "label": _plain(f.label, MAX_LABEL),
        "element": _element(f),
    }
    if f.hint and "placeholder" not in block["element"]:
        block["hint"] = _plain(f.hint, MAX_LABEL)
    return block


def _element(f: Field) -> dict[str, Any]:
    element: dict[str, Any] = {"action_id": f.name}
    if f.kind == "search":
        # The choices come from the core as the person types (``option_list``); with no
        # minimum, the first ones show as soon as the menu opens.
        element.update(
            type="external_select", action_id=f"{OPTIONS_PREFIX}{f.source}", min_query_length=0
        )
    elif f.kind in ("choice", "choices"):
        options = [
            {"text": _plain(label, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}
            for value, label in f.options[:MAX_OPTIONS]
        ]
        if f.kind == "choices":
            element["type"] = "multi_static_select"
        else:
            radio = len(options) <= MAX_RADIO_OPTIONS
            element["type"] = "radio_buttons" if radio else "static_select"
        element["options"] = options
        initial = [o for o in options if o["value"] == f.initial]
        if initial:
            element["initial_option"] = initial[0]
    elif f.kind == "date":
        element["type"] = "datepicker"
    elif f.kind == "number":
        element.update(type="number_input", is_decimal_allowed=False)
        if f.bounds is not None:
            element.update(min_value=str(f.bounds[0]), max_value=str(f.bounds[1]))
    elif f.kind == "url":
        element["type"] = "url_text_input"
    else:
        element["type"] = "plain_text_input"
        element["multiline"] = f.kind == "long_text"
        if f.max_length is not None:
            element["max_length"] = min(f.max_length, MAX_INPUT_LENGTH)
    if f.hint and element["type"] not in ("radio_buttons", "multi_static_select"):
        element["placeholder"] = _plain(f.hint, MAX_PLACEHOLDER)
    return element


def option_list(choices: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """An external select's answer: the first choices that Block Kit can carry (a value too
    long to send whole is left out rather than cut into another value)."""
    return [
        {"text": _plain(label, MAX_OPTION_TEXT), "value": value}
        for value, label in choices
        if 1 <= len(value) <= MAX_OPTION_VALUE
    ][:MAX_OPTIONS]


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    """A view_submission's ``errors`` answer: each field's problem, cut to a label's length."""
    return {name: problem[:MAX_LABEL] for name, problem in errors.items()}


def submitted(state: ViewState) -> dict[str, str]:
    """A submitted view's answers by block id, as the text a person would type for them."""
    return {
        block_id: element.answer
        for block_id, elements in state.values.items()
        for element in elements.values()
    }


MODALS = {
    ANNOUNCE: Modal(
        "New announcement",
        "Your message for students",
        "The careers fair is on Friday from 10:00 in the main hall…",
    )
}


def view_for(command: str, form: Form | None) -> dict[str, Any] | None:
    """The modal ``command`` opens when run without arguments, if it has one."""
    modal = MODALS.get(command)
    if modal is not None:
        return modal.view(command)
    return form_view(command, form) if form is not None else None


def submitted_text(form: Form | None, state: ViewState) -> str:
    """The command's text from a submitted modal: the form's lines, or the modal's one text."""
    answers = submitted(state)
    return form.write(answers) if form is not None else answers.get("text", "")
