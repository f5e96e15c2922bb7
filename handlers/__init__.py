"""Capabilities of oppbot, one module each, composed into one registry."""

from __future__ import annotations

from bot.core import Registry
from handlers import home
from handlers.applications import interest, matches
from handlers.listings import browse, flags, opportunities, saved, sources
from handlers.messaging import alerts, announcements, calendar, digest, reminders
from handlers.people import (
    colleagues,
    consent,
    general,
    invites,
    onboarding,
    privacy,
    questions,
    staff,
)
from handlers.placements import feedback, hours, placements
from handlers.reports import evidence, objectives, report

MODULES = (
    general,
    onboarding,
    invites,
    browse,
    interest,
    saved,
    flags,
    reminders,
    digest,
    alerts,
    calendar,
    matches,
    placements,
    hours,
    feedback,
    questions,
    colleagues,
    consent,
    opportunities,
    sources,
    staff,
    announcements,
    report,
    objectives,
    evidence,
    privacy,
    home,
)


def build_registry() -> Registry:
    """Every command, button and dialog of every capability, in /help order."""
    registry = Registry()
    for module in MODULES:
        registry.include(module.registry)
    return registry
