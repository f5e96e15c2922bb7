"""Capabilities of oppbot, one module each, composed into one registry."""

from __future__ import annotations

from bot.core import Registry
from handlers import browse, general, interest, invites, onboarding, privacy, saved

MODULES = (general, onboarding, invites, browse, interest, saved, privacy)


def build_registry() -> Registry:
    """Every command, button and dialog of every capability, in /help order."""
    registry = Registry()
    for module in MODULES:
        registry.include(module.registry)
    return registry
