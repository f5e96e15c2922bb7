"""Wiring: the database, the core with every handler, the adapters and their senders."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.core import Clock, Core, utcnow
from bot.delivery import OutboxSender, Pacing, SenderLock, Transport
from bot.metrics import app_registry
from bot.scheduler import build_scheduler
from bot.service import Health, HealthServer
from bot.slack import SlackAdapter
from bot.telegram import TelegramAdapter, TelegramTransport
from handlers import build_registry
from storage.db import make_engine, make_session_factory, upgrade

log = logging.getLogger(__name__)


class Adapter(Protocol):
    """What the runner needs of a platform adapter."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    core: Core


# How often a thread waiting for the GIL gets it from one that keeps it busy: 1 ms, not
# Python's 5. Under a burst, the threads running the core keep the GIL busy, and a short
# lookup that someone waits for (may this person open the modal?) waits up to the interval at
# each of its database calls: in bench.slack_burst the last of 20 modals opened 1.17 to
# 1.27 s after its command with 5 ms and 0.70 to 0.86 s with 1 ms, on a 2-core machine, with
# every answer posted as soon (docs/PERFORMANCE.md).
SWITCH_INTERVAL = 0.001


def build(settings: Settings, *, clock: Clock = utcnow, migrate: bool = True) -> App:
    """Connect, bring the schema up to date, and build the core; the process now serves
    people, so its threads take turns with the GIL at ``SWITCH_INTERVAL``."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    factory = make_session_factory(engine)
    core = Core(factory, build_registry(), clock=clock, timing=settings.timing())
    return App(settings, engine, factory, core)


class Runner:
    """Every adapter whose settings are present, with its outbox sender, in one event loop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stop_event = asyncio.Event()
        self.adapters: list[Adapter] = []
        self.senders: list[OutboxSender] = []
        self.health = Health(app.engine, app_registry(app.session_factory, app.core.clock))
        self.health_server: HealthServer | None = None

    def configure(self) -> None:
        settings, core = self.app.settings, self.app.core
        routes = self.health.routes()
        if settings.health_port is not None:
            self.health_server = HealthServer(
                self.health, settings.health_listen, settings.health_port
            )
        if settings.telegram_token:
            # In polling mode there is no server of its own to put the routes on.
            telegram = TelegramAdapter(
                core,
                settings,
                on_queued=self._wake_senders,
                routes=routes if settings.telegram_mode == "webhook" else (),
            )
            self._add(
                telegram,
                TelegramTransport(telegram.bot),
                "telegram",
                Pacing(settings.telegram_rate, settings.telegram_chat_rate),
            )
        if settings.slack_bot_token:
            slack = SlackAdapter(
                core,
                settings,
                on_queued=self._wake_senders,
                routes=routes if settings.slack_mode == "http" else (),
            )
            self._add(
                slack,
                slack.transport(),
                "slack",
                Pacing(settings.slack_rate, settings.slack_channel_rate),
            )
        if not self.adapters:
            raise SystemExit(
                "No platform is configured: set OPPBOT_TELEGRAM_TOKEN or OPPBOT_SLACK_BOT_TOKEN "
                "(see README), or try the console with `oppbot chat --as NAME`."
            )

    def _add(self, adapter: Adapter, transport: Transport, platform: str, pacing: Pacing) -> None:
        self.adapters.append(adapter)
        self.senders.append(
            OutboxSender(
                self.app.session_factory,
                transport,
                pacing=pacing,
                clock=self.app.core.clock,
                lock=SenderLock(self.app.engine, platform),
            )
        )

    def _wake_senders(self) -> None:
        # Whatever one person does may queue messages for any platform (a teacher on Slack
        # announces to students on Telegram), so every sender looks at the outbox now.
        for sender in self.senders:
            sender.wake()

    async def run(self) -> None:
        self.configure()
        if self.health_server is not None:
            # Up before the adapters: /healthz answers, /readyz says "not yet".
            await self.health_server.start()
        for adapter in self.adapters:
            await adapter.start()
        tasks = [asyncio.create_task(s.run(self.stop_event)) for s in self.senders]
        # Reminders, digests and scheduled announcements; each job also runs now, at start.
        scheduler = build_scheduler(
            self.app.session_factory, self.app.core.clock, self.app.settings
        )
        scheduler.start()
        self.health.started = True
        try:
            await self.stop_event.wait()
        finally:
            self.health.stopping = True
            scheduler.shutdown(wait=False)
            grace = self.app.settings.shutdown_grace_seconds
            try:
                await asyncio.wait_for(self._wind_down(tasks), grace)
                log.info("stopped")
            except TimeoutError:
                # What was in flight is still pending in the outbox: the next process sends it.
                log.error("not stopped cleanly within %.0fs; exiting anyway", grace)

    async def _wind_down(self, senders: list[asyncio.Task[None]]) -> None:
        """Stop taking updates and finish those in hand; the senders (stopped by the same event)
        finish and record their sends in flight meanwhile."""
        for adapter in self.adapters:
            await adapter.stop()
        await asyncio.gather(*senders, return_exceptions=True)
        if self.health_server is not None:
            await self.health_server.stop()

    def stop(self) -> None:
        self.stop_event.set()


def run(settings: Settings) -> None:
    """``oppbot run``: serve until SIGINT or SIGTERM, then stop cleanly."""
    runner = Runner(build(settings))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        await runner.run()

    asyncio.run(main())
