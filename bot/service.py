"""What a load balancer and Prometheus ask of a running ``oppbot``: health and metrics.

``GET /healthz``: 200 while the process serves at all (a liveness probe). ``GET /readyz``:
200 when the database answers with its schema at the newest migration and every adapter has
started, 503 otherwise, and 503 again from the moment a shutdown begins, so that a load balancer
stops sending before the port closes. ``GET /metrics``: Prometheus' text format.

The routes are served on the Telegram webhook's port and on Slack's HTTP port, whichever run,
and on ``OPPBOT_HEALTH_PORT`` when it is set (the only way when polling or in Socket Mode).
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from bot import metrics
from storage.db import schema_current

log = logging.getLogger(__name__)


class Health:
    """Whether this process is ready for traffic, and its metrics."""

    def __init__(self, engine: Engine, registry: CollectorRegistry | None = None) -> None:
        self.engine = engine
        self.registry = registry
        self.started = False
        self.stopping = False

    async def checks(self) -> dict[str, bool]:
        try:
            database = await asyncio.to_thread(schema_current, self.engine)
        except Exception as error:
            # The reason goes to the log (redacted there), not to whoever asks.
            log.warning("readiness: the database does not answer (%s)", type(error).__name__)
            database = False
        return {"database": database, "adapters": self.started, "accepting": not self.stopping}

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        checks = await self.checks()
        ready = all(checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return web.Response(
            status=200 if ready else 503, text=json.dumps(body), content_type="application/json"
        )

    async def metrics(self, request: web.Request) -> web.Response:
        registries = () if self.registry is None else (self.registry,)
        # Collecting reads the outbox from the database: off the event loop.
        body = await asyncio.to_thread(metrics.exposition, *registries)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.metrics),
        ]


class HealthServer:
    """The routes alone on a port of their own."""

    def __init__(self, health: Health, listen: str, port: int) -> None:
        self.health = health
        self.listen = listen
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(self.health.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        self.port = self._runner.addresses[0][1]
        log.info("health and metrics on port %s", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
