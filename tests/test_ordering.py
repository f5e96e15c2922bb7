"""``bot.ordering.InTurn``: one key's jobs in order, other keys' alongside, within a bound."""

from __future__ import annotations

import asyncio

from bot.ordering import InTurn


class Job:
    """A job that records when it starts and runs until the test lets it finish."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.started = asyncio.Event()
        self.finish = asyncio.Event()

    async def __call__(self) -> str:
        self.log.append(self.name)
        self.started.set()
        await self.finish.wait()
        return self.name


async def _settle() -> None:
    """Let every task that can make progress make it (no clock involved)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_one_keys_jobs_run_in_order_while_other_keys_run_alongside() -> None:
    turns: InTurn[str] = InTurn()
    started: list[str] = []
    jobs = {name: Job(name, started) for name in ("a1", "a2", "a3", "b1")}
    tasks = [
        asyncio.create_task(turns.run(name[0], jobs[name]())) for name in ("a1", "a2", "b1", "a3")
    ]
    await _settle()
    assert started == ["a1", "b1"]  # a2 waits for a1; b1 does not
    jobs["a1"].finish.set()
    await jobs["a2"].started.wait()
    await _settle()
    assert started == ["a1", "b1", "a2"]
    for job in jobs.values():
        job.finish.set()
    assert await asyncio.gather(*tasks) == ["a1", "a2", "b1", "a3"]
    assert started == ["a1", "b1", "a2", "a3"]
    assert not turns._locks  # nobody waits: no lock is kept


async def test_the_bound_is_shared_and_a_busy_key_does_not_hold_it() -> None:
    turns: InTurn[str] = InTurn(limit=2)
    started: list[str] = []
    jobs = {name: Job(name, started) for name in ("a1", "a2", "a3", "b1", "c1")}
    tasks = [
        asyncio.create_task(turns.run(name[0], jobs[name]()))
        for name in ("a1", "a2", "a3", "b1", "c1")
    ]
    await _settle()
    # a2 and a3 wait for a's turn without taking a slot, so b1 has the second one.
    assert started == ["a1", "b1"]
    jobs["b1"].finish.set()
    await jobs["c1"].started.wait()
    await _settle()
    assert started == ["a1", "b1", "c1"]
    for job in jobs.values():
        job.finish.set()
    await asyncio.gather(*tasks)
    assert started == ["a1", "b1", "c1", "a2", "a3"]


async def test_a_failing_job_fails_alone_and_the_next_one_runs() -> None:
    turns: InTurn[int] = InTurn(limit=1)

    async def broken() -> None:
        raise ValueError("broken")

    async def fine() -> str:
        return "fine"

    results = await asyncio.gather(
        turns.run(1, broken()), turns.run(1, fine()), return_exceptions=True
    )
    assert isinstance(results[0], ValueError) and results[1] == "fine"
    assert not turns._locks
