"""The placements area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.placements.feedback import ask_due_feedback, forget_feedback, schedule_feedback
from handlers.placements.hours import confirm_buttons, hours_to_confirm
from handlers.placements.placements import (
    HOURS_STATUS,
    STAGES,
    create_placement,
    dates_phrase,
    hours_phrase,
    placement_card,
    upcoming_placements,
)

__all__ = [
    "HOURS_STATUS",
    "STAGES",
    "ask_due_feedback",
    "confirm_buttons",
    "create_placement",
    "dates_phrase",
    "forget_feedback",
    "hours_phrase",
    "hours_to_confirm",
    "placement_card",
    "schedule_feedback",
    "upcoming_placements",
]
