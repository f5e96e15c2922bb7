"""A Bot API server for timing: as little CPU per call as a server in Python can take.

``tests.fakes.telegram.FakeTelegram`` checks every call as Telegram would (markup, lengths,
flood limits) and records it; on aiohttp's server that is about 0.15 ms of CPU per
``sendMessage`` on a fast core, twice that on a slow one. In a benchmark it runs on the
machine it measures, and for ``bench.inbound --processes`` every bit of CPU it takes is
taken from the processes being compared, where Telegram's own servers would be other
machines. This one reads each request with asyncio's streams and answers from the bytes: a
bot's user for ``getMe``, the message sent for ``sendMessage`` (its id, date, chat and text,
as Telegram's ``Message``), ``true`` for the calls that set things up (the webhook, the
command menus), and 404 as Telegram does for any other method. It counts the messages
accepted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

_BOT = {"id": 7_000_000_002, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
# Methods answered with ``true``: what ``oppbot run`` and python-telegram-bot call to start and
# stop a bot in webhook mode.
_TRUE = frozenset(
    {"setwebhook", "deletewebhook", "setmycommands", "deletemycommands", "setchatmenubutton"}
)


class BotApiStub:
    """``async with BotApiStub() as api:``; give ``api.base_url`` to the bot as its API URL."""

    def __init__(self) -> None:
        self.base_url = ""  # set by __aenter__
        self.sent = 0  # sendMessage calls answered with ok
        self._message_ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Event()

    async def __aenter__(self) -> BotApiStub:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._connections:
            writer.close()
        await self._server.wait_closed()

    async def until_sent(self, count: int) -> None:
        """Wait until ``count`` messages in all have been accepted."""
        while self.sent < count:
            self._changed.clear()
            await self._changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the client closed its keep-alive connection
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    name, _colon, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    # aiohttp's client sends a JSON body whole, with its length.
                    assert name != "transfer-encoding", "a chunked body"
                body = await reader.readexactly(length) if length else b""
                status, answer = self._answer(path.rsplit("/", 1)[-1].lower(), body)
                data = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                if status == 200 and path.lower().endswith("/sendmessage"):
                    self.sent += 1
                    self._changed.set()
        finally:
            self._connections.discard(writer)
            writer.close()

    def _answer(self, method: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if method == "getme":
            return 200, {"ok": True, "result": _BOT}
        if method in _TRUE:
            return 200, {"ok": True, "result": True}
        if method == "sendmessage":
            params = json.loads(body)
            chat_id = int(params["chat_id"])
            message = {
                "message_id": next(self._message_ids),
                "from": _BOT,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "date": int(time.time()),
                "text": params["text"],
            }
            return 200, {"ok": True, "result": message}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
