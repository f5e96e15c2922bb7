"""Wiring: the database, the core with every handler, ready for an adapter."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.core import Clock, Core, utcnow
from handlers import build_registry
from storage.db import make_engine, make_session_factory, upgrade


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
