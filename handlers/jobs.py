"""The batch jobs the scheduler runs: the one handlers module that bot.scheduler imports.

Each job is a plain synchronous function given the time (most take the session factory, the
time and the delivery timing, and run their own transactions), so the scheduler only decides
when to call it.
"""

from __future__ import annotations

from handlers.applications import nudge_unanswered
from handlers.listings import Endpoints, Fetcher, close_expired, run_imports, sync_due
from handlers.messaging import (
    Queued,
    queue_due_reminders,
    reconcile_all,
    report_deliveries,
    send_alerts,
    send_digests,
    send_due_announcements,
)
from handlers.people import raise_unanswered
from handlers.placements import ask_due_feedback
from handlers.reports import ask_attendance

__all__ = [
    "Endpoints",
    "Fetcher",
    "Queued",
    "ask_attendance",
    "ask_due_feedback",
    "close_expired",
    "nudge_unanswered",
    "queue_due_reminders",
    "raise_unanswered",
    "reconcile_all",
    "report_deliveries",
    "run_imports",
    "send_alerts",
    "send_digests",
    "send_due_announcements",
    "sync_due",
]
