"""The applications area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.applications.interest import my_applications, withdraw
from handlers.applications.matches import (
    application_status,
    employer_buttons,
    live_applications,
    nudge_unanswered,
    share_pending,
)

__all__ = [
    "application_status",
    "employer_buttons",
    "live_applications",
    "my_applications",
    "nudge_unanswered",
    "share_pending",
    "withdraw",
]
