"""Slack modals: a command's ``Form`` asked for in a dialog.

A command with a ``Form`` (``/announce``, ``/publish``, ``/edit``) run without arguments opens
a modal; what is submitted reaches the core as the form's "field: value" lines, exactly as if
typed. A form's search fields are external selects whose choices the core finds as the person
types; a form with a summary shows it under its live fields, updated as they change, and one
with a preview shows it (pushed over the form, whose Back returns to it) before it is sent.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core import Field, Form
from bot.i18n import _, _p
from bot.slack.requests import ViewState

# The core's command that drafts an announcement ("/announce TEXT" goes straight to the audience).
ANNOUNCE = "announce"
MODAL_PREFIX = "oppbot_modal:"
# A form's preview, pushed over it: its submit sends the form.
PREVIEW_PREFIX = "oppbot_preview:"
# The block under a form's live fields that shows its summary.
SUMMARY = "summary"
# The action id of a search field's external select: the prefix and the options' source.
OPTIONS_PREFIX = "oppbot_options:"
# Block Kit limits (https://docs.slack.dev/reference/block-kit).
MAX_MODAL_TITLE = 24
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_OPTIONS = 100
# Beyond this many choices a menu is searched as the person types (an external select).
MAX_STATIC_OPTIONS = 25
MAX_TEXT = 3000  # of a section's or context's text
MAX_METADATA = 3000
# A form field's own choices, searched: OPTIONS_PREFIX + FORM_SOURCE + "command.field".
FORM_SOURCE = "form:"
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
# Slack refuses a view whose text input allows more than this, whatever the field's own limit.
MAX_INPUT_LENGTH = 3000
# Radio buttons show every choice at once; a longer list reads better as a menu.
MAX_RADIO_OPTIONS = 5


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit]}


def form_view(command: str, form: Form, *, summary: str = "", metadata: str = "") -> dict[str, Any]:
    """The modal that asks for ``form``'s fields, one input block each, with ``summary`` under
    the last live field (or first, with none); ``metadata`` (where the command was typed, and
    the lines of fields already given, which are not asked again) travels with the view."""
    given, _problems = form.read(unpacked(metadata)[1])
    fields = [f for f in form.fields if f.name not in given]
    blocks = [_input_block(command, f) for f in fields]
    live = [i for i, f in enumerate(fields) if f.live]
    if form.summary and (live or given):
        note = {
            "type": "context",
            "block_id": SUMMARY,
            "elements": [_plain(summary or " ", MAX_TEXT)],
        }
        blocks.insert(live[-1] + 1 if live else 0, note)
    return {
        "type": "modal",
        "callback_id": f"{MODAL_PREFIX}{command}",
        "title": _plain(_(form.title), MAX_MODAL_TITLE),
        "submit": _plain(_(form.submit), MAX_MODAL_TITLE),
        "close": _plain(_p("button", "Cancel"), MAX_MODAL_TITLE),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def preview_view(
    command: str, form: Form, blocks: list[dict[str, Any]], metadata: str, *, send: bool = True
) -> dict[str, Any]:
    """A form's preview (``blocks``), pushed over it: Send, or Back to the form as it was."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": f"{PREVIEW_PREFIX}{command}",
        "title": _plain(_(form.title), MAX_MODAL_TITLE),
        "close": _plain(_p("button", "Back"), MAX_MODAL_TITLE),
        "private_metadata": metadata,
        "blocks": blocks,
    }
    if send:
        view["submit"] = _plain(_p("button", "Send"), MAX_MODAL_TITLE)
    return view


def metadata(channel: str, text: str = "") -> str | None:
    """A view's private metadata: where the command was typed and the form's lines (None
    if they are too long to travel with it)."""
    packed = json.dumps({"channel": channel, "text": text}, ensure_ascii=False)
    return packed if len(packed) <= MAX_METADATA else None


def unpacked(metadata: str) -> tuple[str, str]:
    """The channel and the form's lines that ``metadata`` carries ("" for either if not)."""
    try:
        values = json.loads(metadata) if metadata else {}
    except ValueError:
        values = {}
    if not isinstance(values, dict):
        values = {}
    channel, text = values.get("channel"), values.get("text")
    return (
        channel if isinstance(channel, str) else "",
        text if isinstance(text, str) else "",
    )


def _input_block(command: str, f: Field) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": f.name,
        "optional": f.optional,
        # A form's words are marked where it is declared (N_) and translated here.
        "label": _plain(_(f.label), MAX_LABEL),
        "element": _element(command, f),
    }
    if f.live:
        block["dispatch_action"] = True
    if f.hint and "placeholder" not in block["element"]:
        block["hint"] = _plain(_(f.hint), MAX_LABEL)
    return block


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}


def _element(command: str, f: Field) -> dict[str, Any]:
    element: dict[str, Any] = {"action_id": f.name}
    searched = f.kind == "search" or (
        f.kind in ("choice", "choices") and (f.source or len(f.options) > MAX_STATIC_OPTIONS)
    )
    if searched:
        # The choices come from the core as the person types (``option_list``), or from the
        # field's own list when it is too long for a menu; with no minimum, the first ones
        # show as soon as the menu opens.
        source = f.source or f"{FORM_SOURCE}{command}.{f.name}"
        element.update(action_id=f"{OPTIONS_PREFIX}{source}", min_query_length=0)
        element["type"] = "multi_external_select" if f.kind == "choices" else "external_select"
    elif f.kind in ("choice", "choices"):
        options = [_option(value, _(label)) for value, label in f.options]
        if f.kind == "choices":
            element["type"] = "multi_static_select"
        else:
            radio = len(options) <= MAX_RADIO_OPTIONS
            element["type"] = "radio_buttons" if radio else "static_select"
        element["options"] = options
        initial = [o for o in options if o["value"] == f.initial]
        if initial:
            element["initial_option"] = initial[0]
    elif f.kind == "flag":
        value, label = f.options[0] if f.options else ("yes", f.label)
        element.update(type="checkboxes", options=[_option(value, _(label))])
    elif f.kind == "date":
        element["type"] = "datepicker"
    elif f.kind == "time":
        element["type"] = "timepicker"
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
    if f.hint and element["type"] not in ("radio_buttons", "multi_static_select", "checkboxes"):
        element["placeholder"] = _plain(_(f.hint), MAX_PLACEHOLDER)
    return element


def own_choices(form: Form | None, field: str, typed: str) -> list[tuple[str, str]]:
    """A long choice field's own options whose label (in the current language) contains what
    was typed."""
    word = typed.strip().lower()
    fields = [f for f in form.fields if f.name == field] if form is not None else []
    labelled = [(v, _(label)) for f in fields for v, label in f.options]
    return [(v, label) for v, label in labelled if word in label.lower()]


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


def submitted_text(form: Form, state: ViewState) -> str:
    """The command's text from a submitted modal: the form's lines."""
    return form.write(submitted(state))
