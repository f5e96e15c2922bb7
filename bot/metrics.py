"""Prometheus metrics, served at ``/metrics`` (see ``bot.service``).

Counters and histograms live in one registry for the process; label values are bounded (the
platform, a registered command's name or ``text``/``button``/``other``, a job's fixed id), so
nothing a person types can create a new time series. What is in the database (the outbox's
depth and the age of its oldest due message) is read when Prometheus scrapes, not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Account, OutboxMessage, OutboxStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter(
    "oppbot_updates",
    "Updates (messages, commands, button presses) handled by the core",
    ["platform", "command"],
    registry=REGISTRY,
)
HANDLING = Histogram(
    "oppbot_update_handling_seconds",
    "Time the core took to handle one update, database included",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ERRORS = Counter(
    "oppbot_update_errors",
    "Updates whose handling failed on our side (the person got an apology)",
    ["platform"],
    registry=REGISTRY,
)
SENT = Counter(
    "oppbot_messages_sent",
    "Outbox messages the platform accepted",
    ["platform"],
    registry=REGISTRY,
)
THROTTLED = Counter(
    "oppbot_send_throttled",
    "Sends the platform answered with 429 (flood control, ratelimited)",
    ["platform"],
    registry=REGISTRY,
)
SEND_ERRORS = Counter(
    "oppbot_send_errors",
    "Failed sends: server (5xx, network, timeout; retried), unreachable (blocked), permanent",
    ["platform", "kind"],
    registry=REGISTRY,
)
SCHEDULER_LAG = Histogram(
    "oppbot_scheduler_lag_seconds",
    "How late a scheduled job started after its due time",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
    registry=REGISTRY,
)
REMINDERS = Counter(
    "oppbot_reminders",
    "Reminders moved to the outbox (queued) or dropped because they were found too late (missed)",
    ["outcome"],
    registry=REGISTRY,
)


class OutboxCollector(Collector):
    """The outbox by platform, read from the database at each scrape."""

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        pending = GaugeMetricFamily(
            "oppbot_outbox_pending",
            "Outbox messages not yet sent (due now or waiting: retries, quiet hours)",
            labels=["platform"],
        )
        oldest = GaugeMetricFamily(
            "oppbot_outbox_oldest_due_age_seconds",
            "How long the oldest message that is due now has been waiting (0: none)",
            labels=["platform"],
        )
        with self.session_factory() as session:
            rows = session.execute(
                select(
                    Account.platform,
                    func.count(OutboxMessage.id),
                    func.min(OutboxMessage.next_attempt_at).filter(
                        OutboxMessage.next_attempt_at <= now
                    ),
                )
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .group_by(Account.platform)
            ).all()
        for platform, count, first_due in rows:
            pending.add_metric([platform], count)
            waited = (now - _aware(first_due, now)).total_seconds() if first_due else 0.0
            oldest.add_metric([platform], max(waited, 0.0))
        yield pending
        yield oldest


def _aware(moment: datetime, like: datetime) -> datetime:
    # SQLite returns naive datetimes (stored as UTC); PostgreSQL returns aware ones.
    return moment.replace(tzinfo=like.tzinfo) if moment.tzinfo is None else moment


def exposition(*registries: CollectorRegistry) -> bytes:
    """The process's metrics and those of ``registries`` (one per app), in the text format."""
    return b"".join(generate_latest(r) for r in (REGISTRY, *registries))


def app_registry(
    session_factory: sessionmaker[Session], clock: Callable[[], datetime]
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutboxCollector(session_factory, clock))
    return registry
