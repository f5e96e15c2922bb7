"""Browsing open opportunities: a paged list, combinable filters, free-text search, the card.

The filters live in conversation state ("browse"), so they survive between messages and
restarts, and free text typed while browsing is taken as a search.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict, cast

from bot.core import STUDENTS, Button, Context, Registry, Reply, UserError
from bot.i18n import LANGUAGES, N_, _, _n, fmt_day, language
from handlers import actions
from handlers.common import (
    KIND_LABELS,
    also,
    card,
    check_place,
    clip,
    local_today,
    open_opportunity,
    searched,
)
from storage.models import OpportunityKind
from storage.queries import (
    ORDERS,
    BrowseFilters,
    Reason,
    browse_lines,
    browse_page,
    elsewhere,
    reasons,
)
from storage.tags import TAGS, normalise_tag

registry = Registry()

BROWSE = "browse"
MAX_SEARCH = 100
# Free text counts as a search only shortly after the student looked at the list.
SEARCH_WINDOW = timedelta(minutes=30)
ORDER_LABELS = {
    "for_you": N_("best for you first"),
    "soonest": N_("soonest deadline first"),
    "newest": N_("newest first"),
}
ORDER_BUTTONS = {
    "for_you": N_("For you"),
    "soonest": N_("Soonest deadline"),
    "newest": N_("Newest"),
}
# The field a for-you line names, shorter than its tag's label ("Technology" for "Technology & IT").
FIELD_WORDS = {
    "technology": N_("Technology"),
    "engineering": N_("Engineering"),
    "science": N_("Science"),
    "health": N_("Health"),
    "business": N_("Business"),
    "creative": N_("Creative"),
    "trades": N_("Construction"),
    "education": N_("Education"),
    "hospitality": N_("Hospitality"),
    "public": N_("Public service"),
}
# "/browse newest": what a student may type for an order, besides the order buttons' labels
# in every language (``order_typed``), which are read whatever language they chose.
ORDER_WORDS = {
    **dict.fromkeys(("soonest", "deadline", "closing soon"), "soonest"),
    **dict.fromkeys(("newest", "new", "latest"), "newest"),
    **dict.fromkeys(("for you", "foryou"), "for_you"),
    **dict.fromkeys(("plazo", "fecha límite"), "soonest"),
    **dict.fromkeys(("recientes", "nuevas"), "newest"),
    **dict.fromkeys(("termin", "najbliższe"), "soonest"),
    **dict.fromkeys(("nowe",), "newest"),
    **dict.fromkeys(("термін", "найближчі"), "soonest"),
    **dict.fromkeys(("нові",), "newest"),
    **dict.fromkeys(("الأقرب", "الموعد النهائي"), "soonest"),
    **dict.fromkeys(("الجديدة", "جديد"), "newest"),
}


class StoredFilters(TypedDict, total=False):
    """``BrowseFilters`` as stored: only the filters set."""

    kind: str
    tag: str
    where: str
    remote: bool
    paid: bool
    text: str


class BrowseState(TypedDict, total=False):
    """Where a student is in /browse, kept between messages (also written by /saved)."""

    filters: StoredFilters
    order: str
    page: int
    # Which list "« Back" returns to, and so whether a typed number opens a line of it.
    back: Literal["list", "saved"]
    seen_at: str  # ISO time the list was last shown: typed words soon after are a search


def _load(ctx: Context) -> tuple[BrowseFilters, BrowseState]:
    state = ctx.typed_state(BROWSE, BrowseState) or BrowseState()
    raw = state.get("filters", StoredFilters())
    kind = raw.get("kind", "")
    filters = BrowseFilters(
        kind=OpportunityKind(kind) if kind in OpportunityKind._value2member_map_ else None,
        tag=raw.get("tag") if raw.get("tag") in TAGS else None,
        where=raw.get("where"),
        remote=raw.get("remote"),
        paid=raw.get("paid"),
        text=raw.get("text"),
    )
    return filters, state


def _save(ctx: Context, filters: BrowseFilters, *, page: int | None = None) -> None:
    _filters, state = _load(ctx)
    if page is not None:
        state["page"] = page
        state["back"] = "list"
    stored = {k: v for k, v in asdict(filters).items() if v is not None}
    state["filters"] = cast(StoredFilters, stored)
    state["seen_at"] = ctx.now.isoformat()
    ctx.set_state(BROWSE, state)


def describe(filters: BrowseFilters) -> list[str]:
    parts = []
    if filters.kind:
        parts.append(_(KIND_LABELS[filters.kind]))
    if filters.tag:
        parts.append(_(TAGS[filters.tag]))
    if filters.where:
        parts.append(_("in {place}", place=filters.where))
    if filters.remote is not None:
        parts.append(_("remote") if filters.remote else _("on site"))
    if filters.paid is not None:
        parts.append(_("paid") if filters.paid else _("unpaid"))
    if filters.text:
        parts.append(_('"{words}"', words=searched(filters.text)))
    return parts


# Long because one page's card, filters line and paging buttons are built from the same query.
def show_list(ctx: Context, page: int = 0, *, replace: bool = False, note: str = "") -> Reply:
    filters, _state = _load(ctx)
    size = ctx.caps.page_size
    order = _order(ctx)
    items, total = browse_lines(
        ctx.session, ctx.person, filters, local_today(ctx), page=page, page_size=size, order=order
    )
    pages = max(1, -(-total // size))
    if page >= pages and total:
        page = pages - 1
        items, total = browse_lines(
            ctx.session,
            ctx.person,
            filters,
            local_today(ctx),
            page=page,
            page_size=size,
            order=order,
        )
    _save(ctx, filters, page=page)
    prefix = f"{note}\n" if note else ""
    summary = ", ".join(describe(filters))
    if total == 0:
        if not filters.active:
            return Reply(
                prefix
                + _("There are no open opportunities right now. I'll have more soon: check back!"),
                replace=replace,
            )
        if filters == BrowseFilters(text=filters.text):
            # Search words alone: other words are the way on, not other filters.
            return Reply(
                prefix
                + _(
                    "Nothing matches {words}. Try other words or check the spelling.",
                    words=summary,
                ),
                _remove_buttons(filters),
                replace=replace,
            )
        return Reply(
            prefix
            + _(
                "Nothing matches {filters}. Try removing a filter or clearing them all.",
                filters=summary,
            ),
            (
                *_remove_buttons(filters),
                (Button(_("Clear all filters"), actions.FILTERS_CLEAR.payload()),),
            ),
            replace=replace,
        )
    lines = [prefix + _heading(total, summary, None if filters.text else order, page, pages), ""]
    today = local_today(ctx)
    # Numbers run on across pages, so "7" always means the same line of this list.
    first = page * size + 1
    others = elsewhere(ctx.session, ctx.person, today, items)
    for n, item in enumerate(items, start=first):
        line = f"{n}. {clip(item.title, 80)} — {clip(item.organisation, 40)}"
        if item.deadline and item.deadline == today:
            line = _("{line} · apply by today", line=line)
        elif item.deadline:
            line = _("{line} · apply by {day}", line=line, day=fmt_day(item.deadline))
        lines.append(line)
        facts = [] if filters.text else reasons(item, ctx.person, today)
        notes = [_reason(fact) for fact in facts]
        if item.id in others:
            notes.append(also(others[item.id]))
        if notes:
            lines.append(f"   {' · '.join(notes)}")
    lines += ["", _("Tap a number to see the details.")]
    numbers = tuple(
        Button(str(n), actions.OPEN_LISTING.payload(item.id))
        for n, item in enumerate(items, start=first)
    )
    paging = []
    if page > 0:
        paging.append(Button(_("« Previous"), actions.PAGE.payload(page - 1)))
    if page + 1 < pages:
        paging.append(Button(_("Next »"), actions.PAGE.payload(page + 1)))
    tools = [Button(_("Filter"), actions.FILTER.payload())]
    if not filters.text:
        tools += [
            Button(_(ORDER_BUTTONS[o]), actions.ORDER.payload(o)) for o in ORDERS if o != order
        ]
    if filters.active:
        tools.append(Button(_("Clear filters"), actions.FILTERS_CLEAR.payload()))
    rows = tuple(r for r in (numbers, tuple(paging), tuple(tools)) if r)
    return Reply("\n".join(lines), rows, replace=replace)


def _heading(total: int, filters: str, order: str | None, page: int, pages: int) -> str:
    """The list's first line: how many, for which filters, in which order, which page."""
    at = {"page": page + 1, "pages": pages}
    if order is None:
        return _n(
            "{n} open opportunity for {filters} (page {page} of {pages}):",
            "{n} open opportunities for {filters} (page {page} of {pages}):",
            total,
            filters=filters,
            **at,
        )
    if filters:
        return _n(
            "{n} open opportunity for {filters}, {order} (page {page} of {pages}):",
            "{n} open opportunities for {filters}, {order} (page {page} of {pages}):",
            total,
            filters=filters,
            order=_(ORDER_LABELS[order]),
            **at,
        )
    return _n(
        "{n} open opportunity, {order} (page {page} of {pages}):",
        "{n} open opportunities, {order} (page {page} of {pages}):",
        total,
        order=_(ORDER_LABELS[order]),
        **at,
    )


def _reason(fact: Reason) -> str:
    """One fact of the for-you score in a word or two: "near Leeds", "closes in 3 days"."""
    if fact.what == "field":
        return _(FIELD_WORDS[fact.tag])
    if fact.what == "near":
        return _("near {place}", place=fact.place)
    if fact.what == "closes":
        if fact.days == 0:
            return _("closes today")
        if fact.days == 1:
            return _("closes tomorrow")
        return _n("closes in {n} day", "closes in {n} days", fact.days)
    return _(REASON_WORDS[fact.what])


# The facts of the score that are a word: marked here, translated by ``_reason``.
REASON_WORDS = {"remote": N_("remote"), "paid": N_("paid"), "new": N_("new")}


def _remove_buttons(filters: BrowseFilters) -> tuple[tuple[Button, ...], ...]:
    labels = {
        "kind": N_("Show any kind"),
        "tag": N_("Show any field"),
        "where": N_("Show anywhere"),
        "remote": N_("Show remote or not"),
        "paid": N_("Show paid or not"),
        "text": N_("Show no search words"),
    }
    buttons = [
        Button(_(label), actions.FILTER_REMOVE.payload(name))
        for name, label in labels.items()
        if getattr(filters, name) is not None
    ]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


@registry.command(
    "browse", "list", "opportunities", "b", roles=STUDENTS, help=N_("see open opportunities")
)
def browse(ctx: Context, args: str) -> list[Reply]:
    chosen = order_typed(args)
    if chosen is not None:
        _filters, state = _load(ctx)
        state["order"] = chosen
        ctx.set_state(BROWSE, state)
        return [show_list(ctx)]
    if args:
        return search(ctx, args)
    return [show_list(ctx)]


def order_typed(text: str) -> str | None:
    """The order ``text`` names, if it names one, in any language the bot speaks."""
    return _order_words().get(" ".join(text.lower().split()))


@functools.cache
def _order_words() -> dict[str, str]:
    words = dict(ORDER_WORDS)
    for lang in LANGUAGES:
        with language(lang):
            words.update((_(label).lower(), order) for order, label in ORDER_BUTTONS.items())
    return words


def _order(ctx: Context) -> str:
    _filters, state = _load(ctx)
    order = state.get("order")
    return order if order in ORDERS else "for_you"


@registry.action(actions.ORDER, roles=STUDENTS)
def order_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 1 or args[0] not in ORDERS:
        raise UserError(_("That button doesn't work any more. Send /browse to start again."))
    _filters, state = _load(ctx)
    state["order"] = args[0]
    ctx.set_state(BROWSE, state)
    return [show_list(ctx, replace=True)]


@registry.command(
    "search", "find", roles=STUDENTS, help=N_("search opportunities, e.g. /search nursing")
)
def search(ctx: Context, args: str) -> list[Reply]:
    if not args.strip("\"' "):  # nothing, or empty quotes: ask what to look for
        ctx.start_dialog("search", WordsDialog())
        return [Reply(_("What should I look for? Type a word or two, like 'design' or 'Leeds'."))]
    filters, _state = _load(ctx)
    _save(ctx, BrowseFilters(**{**asdict(filters), "text": _search_words(args)}))
    return [show_list(ctx)]


def _search_words(text: str) -> str:
    words = " ".join(text.split())
    if len(words) > MAX_SEARCH:
        raise UserError(
            _("That search is too long. Please use fewer than {n} characters.", n=MAX_SEARCH)
        )
    return words


class WordsDialog(TypedDict):
    """The words typed for a search or a place: the text is the whole answer, nothing is kept."""


@registry.dialog("search")
def search_answer(ctx: Context, text: str, dialog: WordsDialog) -> list[Reply]:
    ctx.clear_state("dialog")
    return search(ctx, text)


@registry.dialog("where")
def where_answer(ctx: Context, text: str, dialog: WordsDialog) -> list[Reply]:
    place = " ".join(text.split())
    check_place(place, MAX_SEARCH)
    ctx.clear_state("dialog")
    filters, _state = _load(ctx)
    _save(ctx, BrowseFilters(**{**asdict(filters), "where": place}))
    return [show_list(ctx)]


@registry.text
def search_while_browsing(ctx: Context, text: str) -> list[Reply] | None:
    if ctx.role not in STUDENTS:
        return None
    _filters, state = _load(ctx)
    seen = state.get("seen_at")
    if seen is None or ctx.now - datetime.fromisoformat(seen) > SEARCH_WINDOW:
        return None
    # After /saved, whose lines are numbered too, a number is not a line of this list.
    if text.isdecimal() and len(text) <= 6 and state.get("back") == "list":
        opened = _open_numbered(ctx, int(text))
        if opened is not None:
            return opened
    step = _paging_step(text)
    if step:
        page = state.get("page", 0)
        return [show_list(ctx, max(0, page + step) if isinstance(page, int) else 0)]
    if not looks_like_search(text):
        return [_what_you_can_do(text)]
    return search(ctx, text)


# Words for the list's next and previous page besides its buttons' labels, in every language.
_NEXT = frozenset(["next", "more", "next page", "show more", "show me more", "more please"])
_PREVIOUS = frozenset(["previous", "prev", "back", "go back", "previous page", "before"])


def _words_of(text: str) -> str:
    return " ".join(re.findall(r"[\w']+", text.lower()))


def _paging_step(text: str) -> int:
    """+1 or -1 when ``text`` asks for the list's next or previous page, else 0."""
    nexts, previouses = _paging_words()
    said = _words_of(text)
    return 1 if said in nexts else -1 if said in previouses else 0


@functools.cache
def _paging_words() -> tuple[frozenset[str], frozenset[str]]:
    """``_NEXT`` and ``_PREVIOUS`` with the paging buttons' labels in every language."""
    nexts, previouses = set(_NEXT), set(_PREVIOUS)
    for lang in LANGUAGES:
        with language(lang):
            nexts.add(_words_of(_("Next »")))
            previouses.add(_words_of(_("« Previous")))
    return frozenset(nexts), frozenset(previouses)


_GREETINGS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "yo",
        "hallo",
        "howdy",
        "thanks",
        "thank",
        "thx",
        "ta",
        "cheers",
        "bye",
        "goodbye",
        "ok",
        "okay",
        "yes",
        "no",
        "please",
        "help",
        "sorry",
        "morning",
        "afternoon",
        "evening",
        "great",
        "cool",
        "nice",
        "good",
        "night",
        "lol",
        "haha",
        "hmm",
        "wow",
        "stop",
        "menu",
    ]
)
# How a sentence to the bot begins, not a search: "I need help", "show me something".
_CHAT_OPENINGS = frozenset(
    ["i", "i'm", "im", "i'd", "me", "my", "we", "you", "u", "let's", "lets", "show", "tell", "give"]
)
_QUESTION_WORDS = frozenset(
    [
        "what",
        "how",
        "why",
        "who",
        "when",
        "where",
        "which",
        "can",
        "could",
        "would",
        "should",
        "will",
        "do",
        "does",
        "did",
        "is",
        "are",
        "am",
        "may",
        "might",
        "shall",
        "what's",
        "whats",
        "how's",
        "where's",
        "who's",
    ]
)
# A search is a few words; longer text is someone talking to the bot.
MAX_SEARCH_WORDS = 6


def looks_like_search(text: str) -> bool:
    """Whether text typed while browsing is something to look for rather than chat.

    Greetings, thanks and questions ("Hello, can I see stuff?", "what can I do?") are chat;
    a few words with no question about them ("data science", "nursing Leeds") are a search.
    """
    words = _words_of(text).split()
    if not words or "?" in text or len(words) > MAX_SEARCH_WORDS:
        return False
    if words[0] in _GREETINGS or words[0] in _QUESTION_WORDS or words[0] in _CHAT_OPENINGS:
        return False
    return not (len(words) <= 2 and all(w in _GREETINGS for w in words))


def _what_you_can_do(text: str) -> Reply:
    thanked = re.search(r"\b(thanks|thank|thx|cheers|ta)\b", text.lower())
    opening = _("You're welcome!") if thanked else _("Hi!")
    return Reply(
        opening
        + " "
        + _(
            "Here's what you can do:\n"
            "• type a word or two to search, like 'design' or 'nursing Leeds'\n"
            "• tap a number in the list to see that opportunity\n"
            "• /filter to narrow the list, /saved for what you saved\n"
            "• /help for everything else"
        ),
        (
            (
                Button(_("Show the list"), actions.PAGE.payload(0)),
                Button(_("Filter"), actions.FILTER.payload()),
            ),
        ),
    )


def _open_numbered(ctx: Context, number: int) -> list[Reply] | None:
    """The card of line ``number`` of the list, as tapping its number would open it.

    None when the list has no such line: the number is then searched for, like any text.
    """
    if number < 1:
        return None
    filters, _state = _load(ctx)
    size = ctx.caps.page_size
    page, index = divmod(number - 1, size)
    items, _total = browse_page(
        ctx.session,
        ctx.person,
        filters,
        local_today(ctx),
        page=page,
        page_size=size,
        order=_order(ctx),
    )
    if index >= len(items):
        return None
    return [card(ctx, items[index], replace=False)]


@registry.command("clear", roles=STUDENTS, help=N_("clear all browse filters"))
def clear(ctx: Context, args: str) -> list[Reply]:
    _save(ctx, BrowseFilters())
    return [show_list(ctx, note=_("Filters cleared."))]


@registry.action(actions.FILTERS_CLEAR, roles=STUDENTS)
def clear_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    _save(ctx, BrowseFilters())
    return [show_list(ctx, replace=True, note=_("Filters cleared."))]


@registry.action(actions.PAGE, roles=STUDENTS)
def page_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 1 or not args[0].isdigit() or len(args[0]) > 6:
        raise UserError(_("That button doesn't work any more. Send /browse to start again."))
    return [show_list(ctx, int(args[0]), replace=True)]


@registry.action(actions.OPEN_LISTING, roles=STUDENTS)
def open_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = open_opportunity(ctx, args[0] if args else None, for_action=False)
    return [card(ctx, opportunity)]


@registry.action(actions.BACK_TO_LIST, roles=STUDENTS)
def back_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    _filters, state = _load(ctx)
    if state.get("back") == "saved":
        from handlers.listings.saved import saved_list

        return [saved_list(ctx, replace=True)]
    return [show_list(ctx, int(state.get("page", 0)), replace=True)]


@registry.command(
    "filter", "filters", roles=STUDENTS, help=N_("narrow the list by kind, field, place, pay")
)
def filter_menu(ctx: Context, args: str) -> list[Reply]:
    return [_filter_menu(ctx, replace=False)]


@registry.action(actions.FILTER, roles=STUDENTS)
def filter_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if not args:
        return [_filter_menu(ctx, replace=True)]
    if args == ["kind"]:
        kinds = [
            Button(_(label), actions.FILTER_KIND.payload(kind.value))
            for kind, label in KIND_LABELS.items()
        ]
        return [Reply(_("Which kind?"), _rows(kinds, 2), replace=True)]
    if args == ["tag"]:
        tags = [Button(_(label), actions.FILTER_TAG.payload(tag)) for tag, label in TAGS.items()]
        return [Reply(_("Which field?"), _rows(tags, 2), replace=True)]
    if args == ["where"]:
        ctx.start_dialog("where", WordsDialog())
        return [Reply(_("Which town or city? Type its name."))]
    if args == ["text"]:
        ctx.start_dialog("search", WordsDialog())
        return [Reply(_("What should I look for? Type a word or two."))]
    raise UserError(_("That button doesn't work any more. Send /filter to start again."))


def _rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def _filter_menu(ctx: Context, *, replace: bool) -> Reply:
    filters, _state = _load(ctx)
    now = ", ".join(describe(filters))
    return Reply(
        _("Filters now: {filters}. What would you like to narrow down?", filters=now)
        if now
        else _("Filters now: none. What would you like to narrow down?"),
        (
            (
                Button(_("Kind"), actions.FILTER.payload("kind")),
                Button(_("Field"), actions.FILTER.payload("tag")),
            ),
            (
                Button(_("Place"), actions.FILTER.payload("where")),
                Button(_("Search words"), actions.FILTER.payload("text")),
            ),
            (
                Button(_("Remote only"), actions.FILTER_REMOTE.payload(1)),
                Button(_("On site only"), actions.FILTER_REMOTE.payload(0)),
            ),
            (
                Button(_("Paid only"), actions.FILTER_PAID.payload(1)),
                Button(_("Clear filters"), actions.FILTERS_CLEAR.payload()),
            ),
            (Button(_("Show results"), actions.PAGE.payload(0)),),
        ),
        replace=replace,
    )


def _set(ctx: Context, **change: Any) -> list[Reply]:
    filters, _state = _load(ctx)
    _save(ctx, BrowseFilters(**{**asdict(filters), **change}))
    return [show_list(ctx, replace=True)]


@registry.action(actions.FILTER_KIND, roles=STUDENTS)
def kind_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 1 or args[0] not in OpportunityKind._value2member_map_:
        raise UserError(_("That button doesn't work any more. Send /filter to start again."))
    return _set(ctx, kind=OpportunityKind(args[0]))


@registry.action(actions.FILTER_TAG, roles=STUDENTS)
def tag_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    tag = normalise_tag(args[0]) if len(args) == 1 else None
    if tag is None:
        raise UserError(_("That button doesn't work any more. Send /filter to start again."))
    return _set(ctx, tag=tag)


def _flag(args: list[str]) -> bool:
    if args not in (["0"], ["1"]):
        raise UserError(_("That button doesn't work any more. Send /filter to start again."))
    return args == ["1"]


@registry.action(actions.FILTER_REMOTE, roles=STUDENTS)
def remote_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return _set(ctx, remote=_flag(args))


@registry.action(actions.FILTER_PAID, roles=STUDENTS)
def paid_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return _set(ctx, paid=_flag(args))


@registry.action(actions.FILTER_REMOVE, roles=STUDENTS)
def remove_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 1 or args[0] not in BrowseFilters.__dataclass_fields__:
        raise UserError(_("That button doesn't work any more. Send /filter to start again."))
    return _set(ctx, **{args[0]: None})
