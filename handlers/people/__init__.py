"""The people area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.people.consent import consent_waiting
from handlers.people.invites import create_invite
from handlers.people.questions import (
    answer_buttons,
    question_line,
    raise_unanswered,
    waiting_questions,
)

__all__ = [
    "answer_buttons",
    "consent_waiting",
    "create_invite",
    "question_line",
    "raise_unanswered",
    "waiting_questions",
]
