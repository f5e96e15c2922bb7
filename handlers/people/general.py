"""/help, /cancel and /language: available to everyone, whatever their role."""

from __future__ import annotations

from bot.core import DIALOG, EVERYONE, ActionRef, Button, Context, Registry, Reply, UserError
from bot.i18n import LANGUAGES, N_, _, language, language_name, supported
from handlers import actions
from handlers.common import CANCEL

registry = Registry()


@registry.command("help", "h", "commands", "menu", "?", roles=EVERYONE, help=N_("what I can do"))
def help_command(ctx: Context, args: str) -> list[Reply]:
    lines = ctx.registry.help_lines(ctx.role)
    intro = (
        _("Here's what you can do:")
        if ctx.role is not None
        else _("Send /start to join your class, or /join with an invite code from your school.")
    )
    return [Reply("\n".join([intro, "", *lines]))]


@registry.command(
    "cancel", "stop", "quit", roles=EVERYONE, help=N_("stop what we're doing"), said=CANCEL
)
def cancel(ctx: Context, args: str) -> list[Reply]:
    if ctx.state(DIALOG) is None:
        return [Reply(_("There's nothing to cancel. Send /help to see what I can do."))]
    ctx.clear_state(DIALOG)
    return [Reply(_("OK, stopped. Send /help whenever you need me."))]


def language_buttons(action: ActionRef, *parts: str) -> tuple[tuple[Button, ...], ...]:
    """One button per language, each in its own name, pressing ``action:PARTS:CODE``."""
    buttons = [Button(name, action.payload(*parts, code)) for code, name in LANGUAGES.items()]
    return (tuple(buttons[:3]), tuple(buttons[3:]))


def chosen_language(text: str) -> str | None:
    """The language a person typed: its code ("es") or its own or English name ("Español")."""
    word = text.strip().casefold()
    for code, name in LANGUAGES.items():
        if word in (code, name.casefold(), ENGLISH_NAMES[code].casefold()):
            return code
    return None


# Typed answers may name a language in English too ("Spanish"); the buttons never do.
ENGLISH_NAMES = {
    "en": "English",
    "es": "Spanish",
    "ar": "Arabic",
    "pl": "Polish",
    "uk": "Ukrainian",
}


@registry.command("language", "lang", roles=EVERYONE, help=N_("choose the language I speak"))
def language_command(ctx: Context, args: str) -> list[Reply]:
    if args:
        code = chosen_language(args)
        if code is None:
            raise UserError(
                _("I don't speak that language yet. Please choose one of these:"),
                language_buttons(actions.LANGUAGE),
            )
        return [_switch(ctx, code, replace=False)]
    return [
        Reply(
            _(
                "I'm speaking {language} with you. Which language would you like?",
                language=language_name(ctx.person.language),
            ),
            language_buttons(actions.LANGUAGE),
        )
    ]


@registry.action(actions.LANGUAGE, roles=EVERYONE)
def language_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 1 or args[0] not in LANGUAGES:
        raise UserError(_("That button is from an earlier question. Please answer the one above."))
    return [_switch(ctx, args[0], replace=True)]


def _switch(ctx: Context, code: str, *, replace: bool) -> Reply:
    ctx.person.language = code
    # The answer is already in the new language.
    with language(supported(code)):
        return Reply(
            _("Done! I'll speak {language} with you from now on.", language=LANGUAGES[code]),
            replace=replace,
        )
