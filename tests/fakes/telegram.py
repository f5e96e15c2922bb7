"""A fake Telegram Bot API server on 127.0.0.1, for tests and benchmarks.

It speaks the Bot API wire format well enough for the real python-telegram-bot to run against it
(``Bot(token, base_url=fake.base_url)`` or ``ApplicationBuilder().base_url(fake.base_url)``):
requests are ``POST /bot<token>/<method>`` with a form, multipart or JSON body, answers are
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``.

Tests drive it from both ends: they push updates (served by ``getUpdates`` or posted to the
webhook; a document a person sends is served by ``getFile`` and ``/file/bot<token>/<path>``),
read back every request in ``calls``, and inject the failures Telegram produces
(429 with retry_after, 403 blocked, 500, a request that never answers, flood limits).

It is as strict as Telegram where our adapter could get it wrong: message text must be 1-4096
characters after HTML parsing, HTML may use only Telegram's tags, callback data is 1-64 bytes,
command names are lowercase, and editing a message to the same content is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import EllipsisType, TracebackType
from typing import Any, Literal, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, web

FailureKind = Literal["429", "403", "500", "hang"]
Handler = Callable[[dict[str, Any]], Awaitable[Any]]

MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
# Long enough that any client gives up first; stop() cancels the sleeping handler.
_HANG_SECONDS = 3600.0
# In a form body "42" the text and 42 the number look the same; the real server knows each
# parameter's type, so these string-typed ones are never JSON-decoded.
_STRING_FIELDS = frozenset(
    {
        "text",
        "parse_mode",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "inline_message_id",
        "action",
        "language_code",
    }
)
_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)?[^<>]*>")
_BOT_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


@dataclass(frozen=True)
class Upload:
    """A file sent as multipart form data (e.g. sendDocument's document)."""

    filename: str
    content: bytes


@dataclass
class Call:
    """One request to the fake, recorded when it arrives."""

    method: str  # canonical Bot API spelling, e.g. "sendMessage", whatever case the client used
    params: dict[str, Any]  # JSON-decoded values: reply_markup is a dict, chat_id an int
    token: str
    at: float  # the fake's clock when the request arrived
    status: int | None = None  # HTTP status answered; None while pending or if it hung

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class _Failure:
    method: str
    kind: FailureKind
    times: int
    chat_id: int | None
    retry_after: int


class _ApiError(Exception):
    """An error answer in Telegram's shape."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(reason: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {reason}")


def _too_many_requests(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def _failure_error(failure: _Failure) -> _ApiError:
    if failure.kind == "429":
        return _too_many_requests(failure.retry_after)
    if failure.kind == "403":
        return _ApiError(403, "Forbidden: bot was blocked by the user")
    return _ApiError(500, "Internal Server Error")


def _decode(name: str, value: Any) -> Any:
    if name in _STRING_FIELDS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # a plain string such as chat_id "@channel"


def _utf16_len(text: str) -> int:
    # Telegram measures entity offsets and lengths in UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _html_visible_text(text: str) -> str:
    """The text a user sees, after checking the markup the way Telegram's parser does."""
    visible: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) != -1:
        visible.append(text[pos:start])
        tag = _HTML_TAG.match(text, start)
        name = (tag.group(2) or "").lower() if tag else ""
        offset = len(text[:start].encode())
        if tag is None or name not in _HTML_TAGS:
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}'
            )
        if not tag.group(1):
            open_tags.append(name)
        elif not open_tags or open_tags[-1] != name:
            expected = f'"</{open_tags[-1]}>"' if open_tags else "no end tag"
            raise _bad_request(
                f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                f'expected {expected}, found "</{name}>"'
            )
        else:
            open_tags.pop()
        pos = tag.end()
    if open_tags:
        raise _bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag "
            f'"{open_tags[-1]}"'
        )
    visible.append(text[pos:])
    return html.unescape("".join(visible))


def _message_text(params: dict[str, Any]) -> str:
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _bad_request("message text is empty")
    if str(params.get("parse_mode", "")).lower() == "html":
        text = _html_visible_text(text)
    if len(text) > MAX_MESSAGE_LENGTH:
        raise _bad_request("message is too long")
    return text


def _inline_keyboard(params: dict[str, Any]) -> dict[str, Any] | None:
    """The reply_markup a sent Message carries: only inline keyboards are echoed back."""
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
    return markup


def _int_param(params: dict[str, Any], name: str, error: str) -> int:
    value = params.get(name)
    if not isinstance(value, int):
        raise _bad_request(error)
    return value


class FakeTelegram:
    """A loopback Bot API server. ``async with FakeTelegram() as fake:`` starts and stops it."""

    def __init__(
        self,
        *,
        bot_username: str = "oppbot_test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` times the calls and the flood limits; tests pass their own to move time."""
        self.bot_username = bot_username
        self.bot_id = 7_000_000_001
        self.base_url = ""  # set by start()
        self.calls: list[Call] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_responses: list[int] = []  # 0 where the webhook gave no HTTP answer
        self.rate_limited = 0
        self.downloads: list[str] = []  # file paths fetched from /file/bot<token>/
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._clock = clock
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler)
            for name, handler in [
                ("getMe", self._get_me),
                ("getUpdates", self._get_updates),
                ("setWebhook", self._set_webhook),
                ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", self._get_webhook_info),
                ("sendMessage", self._send_message),
                ("sendDocument", self._send_document),
                ("sendPhoto", self._send_photo),
                ("getFile", self._get_file),
                ("editMessageText", self._edit_message_text),
                ("answerCallbackQuery", self._true),
                ("setMyCommands", self._set_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("sendChatAction", self._true),
                ("close", self._true),
                ("logOut", self._true),
            ]
        }
        self._failures: list[_Failure] = []
        self._limits: tuple[float, float] | None = None
        self._recent_sends: deque[float] = deque()
        self._recent_sends_by_chat: defaultdict[int, deque[float]] = defaultdict(deque)
        # Updates waiting for getUpdates; those below the confirmed offset are forgotten.
        self._pending: list[dict[str, Any]] = []
        self._offset = 0
        self._update_arrived = asyncio.Event()
        self._last_update_id = 0
        self._query_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        self._last_message_id: defaultdict[int, int] = defaultdict(int)
        # (chat id, message id) -> (text as sent, Message): edits are compared with the former.
        self._messages: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._webhook_queue: asyncio.Queue[tuple[str, str | None, dict[str, Any]]] = asyncio.Queue()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._webhook_sender: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        # Handlers still running at stop() are cancelled first, so a short grace is enough.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self._session = ClientSession(timeout=ClientTimeout(total=10))
        self._webhook_sender = asyncio.create_task(self._send_webhooks())

    async def stop(self) -> None:
        for task in [*self._in_flight, self._webhook_sender]:
            if task is not None:
                task.cancel()
        if self._webhook_sender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_sender
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = self._session = self._webhook_sender = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- what the bot did -------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Accepted sendMessage calls, optionally to one chat only."""
        return [
            call
            for call in self.calls_to("sendMessage")
            if call.accepted and (chat_id is None or call.params.get("chat_id") == chat_id)
        ]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The command list set for a scope (default: {"type": "default"}) and language."""
        return self._commands.get(self._commands_key(scope, language_code), [])

    # -- updates ----------------------------------------------------------------------------

    def message_update(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Ada",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An Update in which the user wrote ``text``; commands carry bot_command entities."""
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
        if chat_type == "private":
            chat_id = user_id if chat_id is None else chat_id
            chat = {k: user[k] for k in ("first_name", "last_name", "username")}
        elif chat_id is None:
            raise ValueError(f"a {chat_type} chat needs an explicit chat_id")
        else:
            chat = {"title": "Test group"}
        self._chats[chat_id] = _without_none({"id": chat_id, "type": chat_type, **chat})
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": _without_none(user),
            "chat": self._chats[chat_id],
            "date": int(time.time()),
            "text": text,
        }
        entities = [
            {
                "type": "bot_command",
                "offset": _utf16_len(text[: match.start()]),
                "length": _utf16_len(match.group()),
            }
            for match in _BOT_COMMAND.finditer(text)
        ]
        if entities:
            message["entities"] = entities
        return {"update_id": self._next_update_id(update_id), "message": message}

    def document_update(
        self, user_id: int, filename: str, content: bytes, *, mime_type: str = "text/csv"
    ) -> dict[str, Any]:
        """An Update in which the user sent ``content`` as a document named ``filename``."""
        update = self.message_update(user_id, "")
        message = update["message"]
        del message["text"]
        file_id = f"doc-in-{user_id}-{message['message_id']}"
        self._files[file_id] = (f"documents/file_{message['message_id']}.csv", content)
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        return update

    def callback_update(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int,
        chat_id: int | None = None,
        first_name: str = "Ada",
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An Update in which the user pressed a button with ``data`` under a bot message."""
        chat_id = user_id if chat_id is None else chat_id
        sent = self._messages.get((chat_id, message_id))
        # A message the fake never sent still needs the fields PTB requires of a Message.
        message = (
            sent[1]
            if sent
            else {
                "message_id": message_id,
                "from": self._bot_user(),
                "chat": self._chat(chat_id),
                "date": int(time.time()),
            }
        )
        query = {
            "id": str(next(self._query_ids)),
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return {"update_id": self._next_update_id(update_id), "callback_query": query}

    def push(self, update: dict[str, Any]) -> None:
        """Deliver an update: to the webhook if one is set (see ``drain``), else to getUpdates."""
        if self.webhook_url is not None:
            self._webhook_queue.put_nowait((self.webhook_url, self.webhook_secret, update))
            return
        self._pending.append(update)
        # Wake every long poll waiting now; later polls wait on a fresh event.
        self._update_arrived.set()
        self._update_arrived = asyncio.Event()

    async def drain(self) -> None:
        """Wait until every update pushed to the webhook has been posted and answered."""
        await self._webhook_queue.join()

    async def post_to_webhook(
        self, update: dict[str, Any], *, secret: str | EllipsisType | None = ...
    ) -> int:
        """Post one update to the webhook now and return the HTTP status.

        ``secret``: ``...`` sends the secret given to setWebhook, ``None`` sends no secret
        header, a string sends that string.
        """
        if self.webhook_url is None:
            raise RuntimeError("no webhook is set: the bot has not called setWebhook")
        return await self._post_update(
            self.webhook_url, self.webhook_secret if secret is ... else secret, update
        )

    # -- failures ---------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        kind: FailureKind,
        *,
        times: int = 1,
        chat_id: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (for ``chat_id`` only, if given) with
        a failure: 429 with ``retry_after``, 403 blocked by the user, 500, or no answer ever."""
        self._failures.append(_Failure(method.lower(), kind, times, chat_id, retry_after))

    def enforce_limits(self, *, per_second: float = 30, per_chat_per_second: float = 1) -> None:
        """Refuse sendMessage with 429 beyond these counts in any one-second window."""
        if per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("limits must be positive")
        self._limits = (per_second, per_chat_per_second)

    # -- the HTTP side ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            name = request.match_info["method"]
            canonical, handler = self._methods.get(name.lower(), (name, None))
            params = await _read_params(request)
            call = Call(canonical, params, request.match_info["token"], self._clock())
            self.calls.append(call)
            try:
                if handler is None:
                    raise _ApiError(404, "Not Found: method not found")
                body = {"ok": True, "result": await self._answer(call, handler)}
                call.status = 200
            except _ApiError as error:
                body, call.status = error.body(), error.code
            return web.json_response(body, status=call.status)
        finally:
            self._in_flight.discard(task)

    async def _answer(self, call: Call, handler: Handler) -> Any:
        failure = self._take_failure(call)
        if failure is not None:
            if failure.kind == "hang":
                await asyncio.sleep(_HANG_SECONDS)
            raise _failure_error(failure)
        return await handler(call.params)

    def _take_failure(self, call: Call) -> _Failure | None:
        for failure in self._failures:
            if failure.method == call.method.lower() and failure.chat_id in (
                None,
                call.params.get("chat_id"),
            ):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _check_limits(self, chat_id: int) -> None:
        if self._limits is None:
            return
        now = self._clock()
        windows = [
            (self._recent_sends, self._limits[0]),
            (self._recent_sends_by_chat[chat_id], self._limits[1]),
        ]
        for window, _ in windows:
            while window and window[0] <= now - 1.0:
                window.popleft()
        full = [window for window, limit in windows if len(window) >= limit]
        if full:
            self.rate_limited += 1
            # Telegram asks for whole seconds: until the oldest send leaves the window.
            wait = max(window[0] + 1.0 - now for window in full)
            raise _too_many_requests(max(1, math.ceil(wait)))
        for window, _ in windows:
            window.append(now)

    async def _send_webhooks(self) -> None:
        # One at a time, so the bot sees updates in the order they were pushed.
        while True:
            url, secret, update = await self._webhook_queue.get()
            try:
                status = await self._post_update(url, secret, update)
            except (ClientError, TimeoutError):
                status = 0
            self.webhook_responses.append(status)
            self._webhook_queue.task_done()

    async def _post_update(self, url: str, secret: str | None, update: dict[str, Any]) -> int:
        assert self._session is not None, "start() the fake first"
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with self._session.post(url, json=update, headers=headers) as response:
            return response.status

    # -- Bot API methods --------------------------------------------------------------------

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url is not None:
            raise _ApiError(409, _WEBHOOK_CONFLICT)
        offset = int(params.get("offset", 0))
        if offset < 0:  # the last -offset updates; all before them are forgotten
            self._pending = self._pending[offset:]
        elif offset > 0:
            self._offset = offset
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout", 0))
        while True:
            self._pending = [u for u in self._pending if u["update_id"] >= self._offset]
            remaining = deadline - loop.time()
            if self._pending or remaining <= 0:
                return self._pending[:limit]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_arrived.wait(), remaining)

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        # As in Telegram, an empty url removes the webhook.
        self.webhook_url = url or None
        self.webhook_secret = secret if url else None
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        return await self._set_webhook({**params, "url": ""})

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _int_param(params, "chat_id", "chat not found")
        text = _message_text(params)
        markup = _inline_keyboard(params)
        self._check_limits(chat_id)
        quoted = self._quoted(chat_id, params.get("reply_parameters"))
        message = self._bot_message(chat_id, self._next_message_id(chat_id), text, markup)
        if quoted is not None:
            message["reply_to_message"] = quoted
        self._messages[chat_id, message["message_id"]] = (params["text"], message)
        return message

    def _quoted(self, chat_id: int, reply: Any) -> dict[str, Any] | None:
        """The message a reply quotes; one that is gone fails unless the reply may go without."""
        if reply is None:
            return None
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise _bad_request("can't parse reply parameters JSON object")
        message_id = reply["message_id"]
        if message_id > self._last_message_id[chat_id]:  # no such message in this chat, ever
            if not reply.get("allow_sending_without_reply"):
                raise _bad_request("message to be replied not found")
            return None
        found = self._messages.get((chat_id, message_id))
        # A person's message is not kept here: quoted by its id alone.
        return found[1] if found is not None else {"message_id": message_id}

    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _int_param(params, "chat_id", "chat not found")
        upload = params.get("document")
        if not isinstance(upload, Upload) or not upload.content:
            raise _bad_request("there is no document in the request")
        self._check_limits(chat_id)
        message = self._bot_message(chat_id, self._next_message_id(chat_id), "", None)
        del message["text"]
        message["document"] = {
            "file_id": f"doc-{chat_id}-{message['message_id']}",
            "file_unique_id": f"u{chat_id}{message['message_id']}",
            "file_name": upload.filename,
            "file_size": len(upload.content),
        }
        return message

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _int_param(params, "chat_id", "chat not found")
        upload = params.get("photo")
        if not isinstance(upload, Upload) or not upload.content:
            raise _bad_request("there is no photo in the request")
        self._check_limits(chat_id)
        message = self._bot_message(chat_id, self._next_message_id(chat_id), "", None)
        del message["text"]
        message["photo"] = [
            {
                "file_id": f"photo-{chat_id}-{message['message_id']}",
                "file_unique_id": f"p{chat_id}{message['message_id']}",
                "width": 900,
                "height": 520,
                "file_size": len(upload.content),
            }
        ]
        return message

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        if file_id not in self._files:
            raise _bad_request("invalid file_id")
        path, content = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        for file_path, content in self._files.values():
            if file_path == path:
                return web.Response(body=content)
        return web.Response(status=404, text="Not Found")

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text = _message_text(params)
        markup = _inline_keyboard(params)
        if "inline_message_id" in params:  # Telegram answers True for inline messages
            return True
        chat_id = _int_param(params, "chat_id", "chat not found")
        message_id = _int_param(params, "message_id", "message to edit not found")
        if message_id > self._last_message_id[chat_id]:  # no such message in this chat, ever
            raise _bad_request("message to edit not found")
        before = self._messages.get((chat_id, message_id))
        if before and before[0] == params["text"] and before[1].get("reply_markup") == markup:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message = self._bot_message(chat_id, message_id, text, markup)
        message["edit_date"] = message["date"]
        self._messages[chat_id, message_id] = (params["text"], message)
        return message

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code", ""))
        self._commands[key] = commands
        return True

    async def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code", ""))
        self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands(params.get("scope"), params.get("language_code", ""))

    # -- helpers ----------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Oppbot Test",
            "username": self.bot_username,
        }

    def _chat(self, chat_id: int) -> dict[str, Any]:
        # Telegram's ids: users are positive, groups and channels negative.
        return self._chats.get(
            chat_id, {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        )

    def _bot_message(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        if markup is not None:
            message["reply_markup"] = markup
        return message

    def _next_message_id(self, chat_id: int) -> int:
        # Both sides of a chat share one sequence of message ids, as in Telegram.
        self._last_message_id[chat_id] += 1
        return self._last_message_id[chat_id]

    def _next_update_id(self, update_id: int | None) -> int:
        if update_id is None:
            update_id = self._last_update_id + 1
        self._last_update_id = max(self._last_update_id, update_id)
        return update_id

    @staticmethod
    def _commands_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string and body (JSON, urlencoded or multipart) as one dict of decoded values."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw.update(await request.json())
    else:
        form = await request.post()  # empty unless the body is a form
        raw.update(
            {
                # An uploaded file is kept whole, so tests can check what was sent.
                k: v if isinstance(v, str) else Upload(v.filename, v.file.read())
                for k, v in form.items()
            }
        )
    return {name: _decode(name, value) for name, value in raw.items()}


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
