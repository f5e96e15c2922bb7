"""The placements area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.placements.feedback import ask_due_feedback, forget_feedback, schedule_feedback
from handlers.placements.placements import (
    create_placement,
    dates_phrase,
    hours_phrase,
    placement_card,
)

__all__ = [
    "ask_due_feedback",
    "create_placement",
    "dates_phrase",
    "forget_feedback",
    "hours_phrase",
    "placement_card",
    "schedule_feedback",
]
