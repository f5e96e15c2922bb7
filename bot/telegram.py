"""The Telegram adapter: python-telegram-bot around the core, in polling or webhook mode.

Each update becomes an ``Incoming`` whose event id is the update id, so an update delivered
twice (a webhook retry, a restart while polling) changes nothing the second time. Updates of
different chats are handled concurrently, those of one chat in order. The core runs in a
worker thread so the event loop never waits on the database. Replies render as Telegram HTML
with all text escaped; a pressed button is answered at once and, where the reply says so,
its message is edited in place. A document (a teacher's listings to import) is fetched with
getFile from the configured Bot API server and reaches the core as ``Incoming.file``.
Bot API calls go over aiohttp with JSON bodies (``AiohttpRequest``), files through
python-telegram-bot's own request class.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Document,
    InputFile,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, ContextTypes
from telegram.ext import TypeHandler as PTBTypeHandler
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot import logs
from bot.config import Settings
from bot.core import (
    MAX_FILE_BYTES,
    Attachment,
    Button,
    Capabilities,
    Core,
    Handled,
    Incoming,
    Reply,
    Who,
    file_too_big,
)
from bot.delivery import Buttons, Outcome, Result
from bot.i18n import DEFAULT, LANGUAGES, N_, _, language
from bot.ordering import InTurn
from storage.models import Role
from storage.outbox import MessageRef

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CAPABILITIES = Capabilities(max_text=MessageLimit.MAX_TEXT_LENGTH, max_button_label=40)
MAX_CALLBACK_DATA = 64
PRIVATE_ONLY = N_(
    "I only talk one to one, so that nobody's details end up in a group. "
    "Message me directly: @{username}"
)
TEXT_ONLY = N_("I can only read text messages for now. Send /help to see what I can do.")
NOT_DOWNLOADED = N_("I couldn't fetch that file from Telegram. Please try sending it again.")


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at paragraph, line or word ends."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut <= limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def to_html(text: str) -> str:
    """User text may contain <, > or &: escaped, it can never break Telegram's HTML parsing."""
    return html.escape(text, quote=False)


def keyboard(rows: tuple[tuple[Button, ...], ...] | Buttons | None) -> dict[str, Any]:
    """The buttons as the Bot API's ``reply_markup``, for a call's ``api_kwargs`` (none: {}).

    Written as JSON-ready dicts rather than ``InlineKeyboardMarkup``: PTB would build an
    object per button, check them, then turn each back into a dict for the request, about
    0.15 ms of CPU for a page of listings (ten buttons), a twelfth of the event loop's share
    of an update.
    """
    if not rows:
        return {}
    markup = []
    for row in rows:
        buttons = [b if isinstance(b, Button) else Button(b[0], b[1]) for b in row]
        for button in buttons:
            if len(button.payload.encode()) > MAX_CALLBACK_DATA:
                raise ValueError(
                    f"button payload over {MAX_CALLBACK_DATA} bytes: {button.payload!r}"
                )
        markup.append([{"text": b.label, "callback_data": b.payload} for b in buttons])
    return {"reply_markup": {"inline_keyboard": markup}}


async def send_text(
    bot: Any,
    chat_id: int | str,
    text: str,
    buttons: tuple[tuple[Button, ...], ...] | Buttons | None,
    reply_to: int | None = None,
) -> Message | None:
    """Send ``text`` as one or more HTML messages; the buttons go under the last one.

    With ``reply_to`` the first quotes that message of the chat (sent anyway if it is gone).
    Returns the first message sent.
    """
    pieces = split_text(text)
    first: Message | None = None
    for n, piece in enumerate(pieces, start=1):
        sent = await bot.send_message(
            chat_id=chat_id,
            text=to_html(piece),
            parse_mode=ParseMode.HTML,
            api_kwargs=keyboard(buttons) if n == len(pieces) else None,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to is not None and first is None
                else None
            ),
            disable_web_page_preview=True,
        )
        first = first or sent
    return first


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


T = TypeVar("T")


async def _patiently(call: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """Make a Bot API call; on flood control wait exactly as asked and try again."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetryAfter as error:
            if attempt == attempts:
                raise
            await asyncio.sleep(_seconds(error.retry_after))
    raise AssertionError("unreachable: the last attempt returns or raises")


def environment_proxy(url: str) -> str | None:
    """The proxy the environment sets for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``
    and their lowercase spellings), if any."""
    parts = urlsplit(url)
    if not parts.hostname or proxy_bypass(parts.hostname):
        return None
    proxies = getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


class AiohttpRequest(BaseRequest):
    """python-telegram-bot's Bot API calls over aiohttp, as JSON bodies.

    Every update is answered with at least one call, and with PTB's own ``HTTPXRequest`` a call
    cost three to four times the CPU of the same call over aiohttp (a loopback sendMessage
    with a page of listings, the Bot API fake's share included: 3.8 to 5 ms against 1 to
    1.2 ms; in ``bench.inbound`` the event loop's CPU per update fell by 2.2 ms or more): on every
    request httpcore asks each idle pooled connection whether it is still open (a ``poll``
    each), wraps its waits in anyio cancel scopes, and tries to import ``sniffio``, which
    searches the whole ``sys.path`` when it is not installed; httpx then form-encodes the
    parameters, the text byte by byte in Python. aiohttp is already the webhook's server.

    Calls that upload files, and file downloads, keep going through PTB's ``HTTPXRequest``
    (multipart bodies with its 20 s write timeout for media): they are rare. Timeouts and
    errors follow ``HTTPXRequest``: the same defaults, a timeout raises ``TimedOut`` and any
    other transport failure ``NetworkError``. aiohttp has no write timeout; a JSON body of a
    few kilobytes goes into the socket's buffer at once, and the read timeout bounds the wait
    for the answer.
    """

    # python-telegram-bot's defaults (ApplicationBuilder, HTTPXRequest; timeouts in seconds).
    CONNECTIONS = 256
    READ_TIMEOUT = 5.0
    CONNECT_TIMEOUT = 5.0
    POOL_TIMEOUT = 1.0

    def __init__(self, api_url: str) -> None:
        self._files = HTTPXRequest(connection_pool_size=self.CONNECTIONS)
        self._session: aiohttp.ClientSession | None = None
        # Read once, as httpx reads it when PTB's request class is made. (aiohttp's trust_env
        # would read the environment, and ~/.netrc, in a worker thread at every request.)
        self._proxy = environment_proxy(api_url)

    @property
    def read_timeout(self) -> float | None:
        return self.READ_TIMEOUT

    async def initialize(self) -> None:
        await self._files.initialize()
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.CONNECTIONS),
                timeout=self._timeout(),
                headers={"User-Agent": self.USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none
                proxy=self._proxy,
            )

    async def shutdown(self) -> None:
        await self._files.shutdown()
        if self._session is not None:
            await self._session.close()

    def _timeout(
        self,
        read: Any = BaseRequest.DEFAULT_NONE,
        connect: Any = BaseRequest.DEFAULT_NONE,
        pool: Any = BaseRequest.DEFAULT_NONE,
    ) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for PTB's: those given (not ``DEFAULT_NONE``), else the defaults.
        aiohttp's ``connect`` covers both waiting for a pooled connection and connecting."""
        default = BaseRequest.DEFAULT_NONE
        read = self.READ_TIMEOUT if read is default else read
        connect = self.CONNECT_TIMEOUT if connect is default else connect
        pool = self.POOL_TIMEOUT if pool is default else pool
        return aiohttp.ClientTimeout(
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # PTB's type for these (a float, None, or its DEFAULT_NONE) is not public.
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if method != "POST" or request_data is None or request_data.contains_files:
            return await self._files.do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        timeout = (
            self._session.timeout
            if read_timeout is connect_timeout is pool_timeout is BaseRequest.DEFAULT_NONE
            else self._timeout(read_timeout, connect_timeout, pool_timeout)
        )
        try:
            async with self._session.post(
                url,
                # Parameters as PTB prepared them (objects as dicts, dates as timestamps).
                data=json.dumps(request_data.parameters).encode(),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's timeouts are also ClientErrors: first
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


class TelegramTransport:
    """Sends outbox messages through the Bot API (in a thread: a reply quoting the thread's
    first message) and edits them with editMessageText; see ``bot.delivery``."""

    platform = PLATFORM

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(
        self, chat_id: str, text: str, buttons: Buttons | None, thread: MessageRef | None = None
    ) -> Result:
        try:
            sent = await send_text(
                self.bot, chat_id, text, buttons, int(thread.message) if thread else None
            )
        except TelegramError as error:
            return _refused(error)
        ref = MessageRef(str(sent.chat_id), str(sent.message_id)) if sent is not None else None
        return Result(Outcome.SENT, ref=ref)

    async def edit(self, ref: MessageRef, text: str, buttons: Buttons | None) -> Result:
        if len(text) > MessageLimit.MAX_TEXT_LENGTH:
            return Result(Outcome.PERMANENT, error="too long for one message")
        try:
            await self.bot.edit_message_text(
                chat_id=ref.chat,
                message_id=int(ref.message),
                text=to_html(text),
                parse_mode=ParseMode.HTML,
                api_kwargs=keyboard(buttons),
                disable_web_page_preview=True,
            )
        except BadRequest as error:
            # The same edit again (a resend after an outage): the message already reads so.
            if "not modified" in error.message.lower():
                return Result(Outcome.SENT, ref=ref)
            return _refused(error)
        except TelegramError as error:
            return _refused(error)
        return Result(Outcome.SENT, ref=ref)


def _refused(error: TelegramError) -> Result:
    """What the outbox sender should do after the Bot API refused a message."""
    match error:
        case RetryAfter():
            return Result(Outcome.RETRY_AFTER, _seconds(error.retry_after), str(error))
        case Forbidden():
            return Result(Outcome.UNREACHABLE, error=str(error))
        case BadRequest():
            # "Chat not found": the account is gone; anything else would fail again the same way.
            gone = "chat not found" in error.message.lower()
            return Result(Outcome.UNREACHABLE if gone else Outcome.PERMANENT, error=str(error))
        case _:  # NetworkError and the rest: try again later
            return Result(Outcome.TRANSIENT, error=f"{type(error).__name__}: {error}")


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, strictly in order within one chat (answers depend on order);
    python-telegram-bot bounds how many run at once."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: InTurn[int] = InTurn()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        await self._turns.run(chat.id, coroutine)

    async def initialize(self) -> None:
        """Nothing to set up: locks are made per chat as updates arrive."""

    async def shutdown(self) -> None:
        """Nothing to free."""


class TelegramAdapter:
    """Runs python-telegram-bot's Application inside our own event loop."""

    def __init__(
        self,
        core: Core,
        settings: Settings,
        *,
        on_queued: Callable[[], None] = lambda: None,
        concurrency: int = 16,
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        if not settings.telegram_token:
            raise ValueError("OPPBOT_TELEGRAM_TOKEN is not set")
        self.core = core
        self.settings = settings
        self.on_queued = on_queued
        core.capabilities[PLATFORM] = CAPABILITIES
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.telegram_token)
            .base_url(f"{settings.telegram_api_url.rstrip('/')}/bot")
            # Files come from the same server as the API (a self-hosted one, or a test fake).
            .base_file_url(f"{settings.telegram_api_url.rstrip('/')}/file/bot")
            .concurrent_updates(PerChatUpdateProcessor(concurrency))
            .request(AiohttpRequest(settings.telegram_api_url))
            .build()
        )
        self.application.add_handler(PTBTypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        # The menu each chat has been given by this process (see ``Account.menu``), for chats
        # whose account does not know it (a new one; a person who asked to be forgotten).
        self._menus: dict[int, str] = {}
        # Served beside the webhook (health and metrics); the webhook's own server is ours.
        self._routes = list(routes)
        self._webhook: web.AppRunner | None = None
        self.port: int | None = None  # the webhook's port, once listening

    @property
    def bot(self) -> Any:
        return self.application.bot

    async def start(self) -> None:
        await self.application.initialize()
        await self._set_default_menu()
        await self.application.start()
        updater = self.application.updater
        assert updater is not None
        allowed = [Update.MESSAGE, Update.CALLBACK_QUERY]
        if self.settings.telegram_mode == "webhook":
            await self._serve_webhook()
            await self.bot.set_webhook(
                url=self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=allowed,
            )
        else:
            # Polling is for one process; several processes must use the webhook (see README).
            await updater.start_polling(allowed_updates=allowed, timeout=10)
        log.info(
            "telegram adapter running (%s) as @%s", self.settings.telegram_mode, self.bot.username
        )

    async def _serve_webhook(self) -> None:
        """Our own aiohttp server in place of python-telegram-bot's: the same queue of updates,
        with the health and metrics routes on the same port."""
        app = web.Application()
        app.router.add_post(f"/{self.settings.telegram_webhook_path.strip('/')}", self._posted)
        app.add_routes(self._routes)
        self._webhook = web.AppRunner(app, access_log=None)
        await self._webhook.setup()
        listen, port = self.settings.telegram_webhook_listen, self.settings.telegram_webhook_port
        await web.TCPSite(self._webhook, listen, port).start()
        self.port = self._webhook.addresses[0][1]

    async def _posted(self, request: web.Request) -> web.Response:
        """One update from Telegram: queued for the application, answered at once."""
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = self.settings.telegram_webhook_secret or ""
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            return web.Response(status=403)
        try:
            # A JSON null reads as no update at all, whatever the annotation promises.
            update: Update | None = Update.de_json(json.loads(await request.read()), self.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("refused a malformed webhook update")
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response()

    async def stop(self) -> None:
        """Stop taking updates, handle those already received, then close."""
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def _set_default_menu(self) -> None:
        """The students' menu, described in English and, for people whose Telegram speaks
        one of our other languages, in theirs; the commands are the same in every language."""
        default = BotCommandScopeDefault()
        await self.bot.set_my_commands(self._menu(Role.STUDENT, DEFAULT), scope=default)
        for lang in LANGUAGES:
            if lang != DEFAULT:
                await self.bot.set_my_commands(
                    self._menu(Role.STUDENT, lang), scope=default, language_code=lang
                )

    def _menu(self, role: Role | None, lang: str) -> list[BotCommand]:
        with language(lang):
            return [
                BotCommand(c.name, _(c.help)[:256]) for c in self.core.registry.available_to(role)
            ]

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        logs.update_id.set(str(update.update_id))
        if update.callback_query is not None:
            await self._on_button(update)
        elif update.message is not None:
            await self._on_message(update, update.message)

    async def _on_message(self, update: Update, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        if message.chat.type != ChatType.PRIVATE:
            await self._in_group(message)
            return
        file: Attachment | None = None
        if message.document is not None:
            with language(await self._language(user)):
                downloaded = await self._download(message.document)
            if isinstance(downloaded, Reply):
                await self._reply(message.chat.id, downloaded)
                return
            file = downloaded
        elif message.text is None:
            with language(await self._language(user)):
                await message.reply_text(_(TEXT_ONLY))
            return
        incoming = Incoming(
            platform=PLATFORM,
            user_id=str(user.id),
            chat_id=str(message.chat.id),
            text=message.text,
            display_name=user.full_name,
            language=user.language_code,
            event_id=str(update.update_id),
            file=file,
        )
        handled = await self._handle(incoming)
        for reply in handled.replies:
            await self._reply(message.chat.id, reply)
        await self._update_menu(message.chat.id, incoming.user_id, handled.who)

    async def _download(self, document: Document) -> Attachment | Reply:
        """The document's bytes, or the reply that says why not (too big: not even fetched)."""
        if (document.file_size or 0) > MAX_FILE_BYTES:
            return file_too_big(document.file_size or 0)
        try:
            found = await document.get_file()
            # python-telegram-bot reads a file_path that names a file on this machine from the
            # disk (for a local-mode server): only the configured server's files are fetched.
            if not (found.file_path or "").startswith(f"{self.bot.base_file_url}/"):
                log.warning("not downloading %s: not on the configured server", document.file_id)
                return Reply(_(NOT_DOWNLOADED))
            if (found.file_size or 0) > MAX_FILE_BYTES:
                return file_too_big(found.file_size or 0)
            content = bytes(await found.download_as_bytearray())
        except TelegramError as error:
            log.warning("could not download document %s: %s", document.file_id, error)
            return Reply(_(NOT_DOWNLOADED))
        return Attachment(
            document.file_name or "file", content, document.mime_type or "application/octet-stream"
        )

    async def _language(self, user: User) -> str:
        """The language of someone writing before the core has handled the update: theirs if
        we have met, their app's if not."""
        return await asyncio.to_thread(
            self.core.language_of, PLATFORM, str(user.id), user.language_code
        )

    async def _in_group(self, message: Message) -> None:
        """In a group, answer only commands addressed to us, and never with anyone's data."""
        first = (message.text or "").split(maxsplit=1)[0] if message.text else ""
        if first.lower().endswith(f"@{self.bot.username}".lower()) and first.startswith("/"):
            # A group's members may not have met us: each is answered in their app's language.
            with language(message.from_user.language_code if message.from_user else None):
                await message.reply_text(_(PRIVATE_ONLY, username=self.bot.username))

    async def _on_button(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        message = query.message
        private = message is not None and message.chat.type == ChatType.PRIVATE
        try:
            # Answer first: Telegram shows a spinner on the button until we do.
            with language(query.from_user.language_code):
                await query.answer(None if private else _(PRIVATE_ONLY, username=self.bot.username))
        except TelegramError:
            log.info("could not answer callback query %s", query.id, exc_info=True)
        if not private or message is None or query.data is None:
            return
        incoming = Incoming(
            platform=PLATFORM,
            user_id=str(query.from_user.id),
            chat_id=str(message.chat.id),
            payload=query.data,
            display_name=query.from_user.full_name,
            language=query.from_user.language_code,
            event_id=str(update.update_id),
        )
        handled = await self._handle(incoming)
        for reply in handled.replies:
            edit = message.message_id if reply.replace else None
            await self._reply(message.chat.id, reply, edit=edit)
        await self._update_menu(message.chat.id, incoming.user_id, handled.who)

    async def _reply(self, chat_id: int, reply: Reply, *, edit: int | None = None) -> None:
        """Answer in the person's chat: edit the pressed message or send anew, then any file."""
        if edit is not None and await self._edit(chat_id, edit, reply):
            shown: int | None = edit
        else:
            sent = await _patiently(lambda: send_text(self.bot, chat_id, reply.text, reply.buttons))
            shown = sent.message_id if sent is not None else None
        if reply.track is not None and shown is not None:
            # Where the tracked reply is, so that the outbox can edit it later.
            ref = MessageRef(str(chat_id), str(shown))
            await asyncio.to_thread(self.core.shown, reply.track, ref)
        if reply.file is not None:
            file = reply.file
            upload = InputFile(file.content, filename=file.filename)
            # A chart is for looking at: as a photo it shows in the chat, a document would not.
            if file.mime.startswith("image/"):
                await _patiently(lambda: self.bot.send_photo(chat_id=chat_id, photo=upload))
            else:
                await _patiently(lambda: self.bot.send_document(chat_id=chat_id, document=upload))

    async def _edit(self, chat_id: int, message_id: int, reply: Reply) -> bool:
        """Edit the pressed message in place; False if it cannot be (too long, too old)."""
        if len(reply.text) > MessageLimit.MAX_TEXT_LENGTH:
            return False
        try:
            await _patiently(
                lambda: self.bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=message_id,
                    text=to_html(reply.text),
                    parse_mode=ParseMode.HTML,
                    api_kwargs=keyboard(reply.buttons),
                    disable_web_page_preview=True,
                )
            )
        except BadRequest as error:
            return "not modified" in error.message.lower()
        return True

    async def _handle(self, incoming: Incoming) -> Handled:
        """The replies, and the person's role and language after the update (for the menu),
        read in the same transaction: one trip to a worker thread per update."""
        handled = await asyncio.to_thread(self.core.respond, incoming)
        if handled.queued:
            self.on_queued()
        return handled

    async def _update_menu(self, chat_id: int, user_id: str, who: Who | None) -> None:
        """Give the chat the command menu of the person's role and language when either has
        changed (not known: left as it is).

        Teachers, admins and employers get a menu of their own in their chat with the bot, in
        the language they chose; so do students and guests who chose a language other than
        English. The others see the default one, the students' menu in their Telegram's
        language, so their chat's own menu is deleted: an old teacher's menu never lingers.
        """
        if who is None:
            return
        role, lang, given = who
        menu: Role | None = None if role in (None, Role.STUDENT) else role
        if menu is None and lang != DEFAULT:
            menu = Role.STUDENT
        key = "" if menu is None else f"{menu.value}:{lang}"
        if key in (given, self._menus.get(chat_id)):
            return
        scope = BotCommandScopeChat(chat_id)
        try:
            if menu is None:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(self._menu(menu, lang), scope=scope)
        except TelegramError:
            # Not recorded, so the next message from this chat tries again.
            self._menus.pop(chat_id, None)
            log.warning("could not update a chat's command menu", exc_info=True)
            return
        self._menus[chat_id] = key
        # Recorded with the account, so that no process sets it again while it is the same.
        await asyncio.to_thread(self.core.remember_menu, PLATFORM, user_id, key)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The update itself holds what the person wrote: only its id goes to the log.
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("error while handling telegram update %s", update_id, exc_info=context.error)
