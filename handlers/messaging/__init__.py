"""The messaging area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.messaging.alerts import alerts_summary, send_alerts
from handlers.messaging.announcements import (
    draft_for_students,
    report_deliveries,
    retext_draft,
    send,
    send_due_announcements,
)
from handlers.messaging.digest import DAYS, day_name, send_digests
from handlers.messaging.reminders import (
    INVITATION,
    Queued,
    fmt_moment,
    queue_due_reminders,
    reconcile_all,
    schedule_event_reminders,
    sync_deadline_reminders,
    waiting_reminders,
)

__all__ = [
    "DAYS",
    "INVITATION",
    "Queued",
    "alerts_summary",
    "day_name",
    "draft_for_students",
    "fmt_moment",
    "queue_due_reminders",
    "reconcile_all",
    "report_deliveries",
    "retext_draft",
    "schedule_event_reminders",
    "send",
    "send_alerts",
    "send_digests",
    "send_due_announcements",
    "sync_deadline_reminders",
    "waiting_reminders",
]
