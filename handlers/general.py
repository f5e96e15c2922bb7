"""/help and /cancel: available to everyone, whatever their role."""

from __future__ import annotations

from bot.core import DIALOG, EVERYONE, Context, Registry, Reply

registry = Registry()


@registry.command("help", "h", "commands", "menu", "?", roles=EVERYONE, help="what I can do")
def help_command(ctx: Context, args: str) -> list[Reply]:
    lines = ctx.registry.help_lines(ctx.role)
    intro = (
        "Here's what you can do:"
        if ctx.role is not None
        else "Send /start to join your class, or /join with an invite code from your school."
    )
    return [Reply("\n".join([intro, "", *lines]))]


@registry.command("cancel", "stop", "quit", roles=EVERYONE, help="stop what we're doing")
def cancel(ctx: Context, args: str) -> list[Reply]:
    if ctx.state(DIALOG) is None:
        return [Reply("There's nothing to cancel. Send /help to see what I can do.")]
    ctx.clear_state(DIALOG)
    return [Reply("OK, stopped. Send /help whenever you need me.")]
