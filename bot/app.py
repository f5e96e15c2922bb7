"""Wiring: the database, the core with every handler, the adapters and their senders."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.core import Clock, Core, utcnow
from bot.delivery import OutboxSender, Pacing, SenderLock
from bot.telegram import TelegramAdapter, TelegramTransport
from handlers import build_registry
from storage.db import make_engine, make_session_factory, upgrade

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    core: Core


def build(settings: Settings, *, clock: Clock = utcnow, migrate: bool = True) -> App:
    """Connect, bring the schema up to date, and build the core."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    factory = make_session_factory(engine)
    return App(settings, engine, factory, Core(factory, build_registry(), clock=clock))


class Runner:
    """Every adapter whose settings are present, with its outbox sender, in one event loop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stop_event = asyncio.Event()
        self.adapters: list[TelegramAdapter] = []
        self.senders: list[OutboxSender] = []

    def configure(self) -> None:
        settings, core = self.app.settings, self.app.core
        if settings.telegram_token:
            sender_box: list[OutboxSender] = []
            telegram = TelegramAdapter(core, settings, on_handled=lambda: _wake(sender_box))
            sender = OutboxSender(
                self.app.session_factory,
                TelegramTransport(telegram.bot),
                pacing=Pacing(settings.telegram_rate, settings.telegram_chat_rate),
                clock=core.clock,
                lock=SenderLock(self.app.engine, "telegram"),
            )
            sender_box.append(sender)
            self.adapters.append(telegram)
            self.senders.append(sender)
        if not self.adapters:
            raise SystemExit(
                "No platform is configured: set OPPBOT_TELEGRAM_TOKEN (see README), "
                "or try the console with `oppbot chat --as NAME`."
            )

    async def run(self) -> None:
        self.configure()
        for adapter in self.adapters:
            await adapter.start()
        tasks = [asyncio.create_task(s.run(self.stop_event)) for s in self.senders]
        try:
            await self.stop_event.wait()
        finally:
            for adapter in self.adapters:
                await adapter.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("stopped")

    def stop(self) -> None:
        self.stop_event.set()


def _wake(senders: list[OutboxSender]) -> None:
    for sender in senders:
        sender.wake()


def run(settings: Settings) -> None:
    """``oppbot run``: serve until SIGINT or SIGTERM, then stop cleanly."""
    runner = Runner(build(settings))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        await runner.run()

    asyncio.run(main())
