"""The applications area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.applications.interest import withdraw
from handlers.applications.matches import nudge_unanswered, share_pending

__all__ = [
    "nudge_unanswered",
    "share_pending",
    "withdraw",
]
