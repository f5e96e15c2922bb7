"""The people area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.people.consent import consent_waiting
from handlers.people.invites import create_invite

__all__ = [
    "consent_waiting",
    "create_invite",
]
