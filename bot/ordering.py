"""Work of one chat in the order it came, different chats at the same time: for both adapters.

Answers depend on order (a button answers the message before it, a dialog's steps follow each
other), so the work for one key (a Telegram chat, a Slack user) runs one job after another,
while other keys' jobs run alongside. Locks exist only while a key has work waiting, so a bot
that has met thousands of people keeps none for those who are quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class InTurn(Generic[K]):
    """Runs jobs for one key in order, different keys concurrently, at most ``limit`` at once
    (no limit: None, for a caller that bounds them itself).

    A job waits for its key's turn first and for a free slot second, so jobs queued behind
    one busy key never hold slots that other keys could use.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        self._locks: dict[K, asyncio.Lock] = {}
        self._waiting: dict[K, int] = {}

    async def run(self, key: K, job: Awaitable[T]) -> T:
        """Await ``job`` after every job for ``key`` that came before it."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            slot = self._slots if self._slots is not None else contextlib.nullcontext()
            async with lock, slot:
                return await job
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]
