"""Capabilities of oppbot, one module each, composed into one registry."""

from __future__ import annotations

from bot.core import Registry
from handlers import (
    announcements,
    browse,
    calendar,
    colleagues,
    consent,
    digest,
    evidence,
    feedback,
    general,
    hours,
    interest,
    invites,
    matches,
    objectives,
    onboarding,
    opportunities,
    placements,
    privacy,
    reminders,
    report,
    reports,
    saved,
    sources,
    teachers,
)

MODULES = (
    general,
    onboarding,
    invites,
    browse,
    interest,
    saved,
    reports,
    reminders,
    digest,
    calendar,
    matches,
    placements,
    hours,
    feedback,
    colleagues,
    consent,
    opportunities,
    sources,
    teachers,
    announcements,
    report,
    objectives,
    evidence,
    privacy,
)


def build_registry() -> Registry:
    """Every command, button and dialog of every capability, in /help order."""
    registry = Registry()
    for module in MODULES:
        registry.include(module.registry)
    return registry
