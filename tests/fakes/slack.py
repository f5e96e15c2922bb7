"""A fake Slack on 127.0.0.1, for tests: the Web API the bot calls, and Slack's side of the
requests the bot receives.

The Web API half answers ``/api/<method>`` the way slack_sdk expects
(``AsyncWebClient(token, base_url=fake.base_url)``): ``{"ok": true, ...}``, or HTTP 200 with
``{"ok": false, "error": "channel_not_found"}``, 429 with a Retry-After header, or a 500. Every
call is recorded with its whole body. It is as strict as Slack where our adapter could go wrong:
Block Kit limits (50 blocks, 3,000 characters of section text, 25 elements per actions block,
75 characters of button text, unique action ids, modal input blocks and their elements), a
known channel, a valid token. Files people share in a DM are served at their ``url_private``
on the fake, to the bot token only (anyone else gets Slack's login page, as Slack does).

The other half plays Slack calling the bot. In HTTP mode it signs slash commands, button
clicks (form body with a JSON ``payload``) and Events API callbacks (JSON) with the signing
secret, as Slack does (``X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")``),
and posts them to the bot's request URL, with retry headers when asked. What people write
arrives encoded as Slack encodes it (``&amp;``, ``&lt;``, ``&gt;``). In Socket Mode,
``apps.connections.open`` (with the app-level token) hands out a WebSocket on the fake, and
``socket_request`` sends the same payloads over it as envelopes and returns the bot's
acknowledgement.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from types import EllipsisType, TracebackType
from typing import Any, Self
from urllib.parse import urlencode

from aiohttp import ClientSession, ClientTimeout, WSMsgType, web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM_ID = "T0TEST"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0TEST"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_ACTION_ID = 255
MAX_BUTTON_VALUE = 2000
MAX_MODAL_TITLE = 24
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_METADATA = 3000
# Options in one answer to an external select's request for them.
MAX_SUGGESTED = 100
MAX_OPTIONS = {"static_select": 100, "multi_static_select": 100, "radio_buttons": 10}
INPUT_ELEMENTS = frozenset(
    {
        "plain_text_input",
        "url_text_input",
        "number_input",
        "datepicker",
        "timepicker",
        "multi_external_select",
        "static_select",
        "external_select",
        "multi_static_select",
        "radio_buttons",
        "checkboxes",
    }
)
LOGIN_PAGE = "<!DOCTYPE html><html><body>Sign in to Slack</body></html>"


@dataclass
class Call:
    """One Web API request, recorded when it arrives."""

    method: str  # "chat.postMessage"
    params: dict[str, Any]  # the body, JSON values decoded (blocks is a list)
    token: str | None
    status: int | None = None  # HTTP status answered
    error: str | None = None  # Slack's error code when ok was false


@dataclass
class Delivered:
    """Slack's view of one request it sent to the bot: the HTTP answer."""

    status: int
    body: str


@dataclass
class _Failure:
    method: str
    kind: str  # "ratelimited", "500", or a Slack error code answered with ok: false
    times: int
    channel: str | None
    retry_after: int


class _ApiError(Exception):
    def __init__(self, error: str, status: int = 200, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after


@dataclass
class Message:
    """A message the bot posted (and perhaps updated since)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    updates: int = 0
    thread_ts: str | None = None  # the ts of the message whose thread it is in

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [e for b in self.blocks if b["type"] == "actions" for e in b["elements"]]

    @property
    def section_text(self) -> str:
        return "\n\n".join(b["text"]["text"] for b in self.blocks if b["type"] == "section")

    def as_event(self) -> dict[str, Any]:
        return {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
        }


@dataclass
class SharedFile:
    """A file the bot uploaded (files.getUploadURLExternal, the upload, completeUploadExternal)."""

    id: str
    filename: str
    length: int
    content: bytes = b""
    title: str = ""


def encode(text: str) -> str:
    """Text as Slack delivers what a person typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, timestamp: str, body: str | bytes) -> str:
    raw = body.encode() if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class FakeSlack:
    """``async with FakeSlack() as fake:`` starts and stops it; set ``request_url`` to the bot's
    ``/slack/events`` before sending it anything."""

    def __init__(
        self,
        *,
        token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.base_url = ""  # http://127.0.0.1:PORT/api/, set by start()
        self.request_url: str | None = None
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []  # (response_url, body) posted
        self.messages: dict[str, list[Message]] = {}  # by channel, in order
        self.ephemeral: list[tuple[str, Message]] = []  # (the user who sees it, message)
        self.history: dict[str, list[dict[str, Any]]] = {}  # what people posted, by channel
        self.users: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}  # every modal opened, pushed or updated
        self.typed: dict[str, dict[str, str | list[str]]] = {}  # live inputs chosen, by view
        self.home: dict[str, dict[str, Any]] = {}  # published App Home views by user
        self.files: dict[str, list[SharedFile]] = {}  # files shared, by channel
        self.shared: dict[str, tuple[str, bytes]] = {}  # files people shared: id -> (mime, bytes)
        self.redirects: dict[str, str] = {}  # shared files answered with a redirect: id -> where
        self.downloads: list[tuple[str, str | None]] = []  # (file id, token) per download
        self._uploads: dict[str, SharedFile] = {}  # by file id, until completed
        self._dms: dict[str, str] = {}
        self._channels: set[str] = set()
        self._failures: list[_Failure] = []
        self._held: dict[str, asyncio.Event] = {}  # methods answered only once released
        self._arrived = asyncio.Condition()  # notified on every Web API call
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._port = 0
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        # Socket Mode: the bot's WebSocket, and the acknowledgements awaited by envelope id.
        self._socket: web.WebSocketResponse | None = None
        self._socket_open = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        # slack_sdk sends most methods as POST, a few (users.info) as GET with a query string.
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/socket", self._socket_mode)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self._port}/api/"
        self._session = ClientSession(timeout=ClientTimeout(total=10))

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = self._session = None

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

    # -- the workspace ----------------------------------------------------------------------

    def add_user(self, user_id: str, real_name: str, *, locale: str = "en-GB") -> str:
        """A person in the workspace; returns the id of their DM with the bot."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": real_name.split()[0].lower(),
            "real_name": real_name,
            "locale": locale,
            "is_bot": False,
            "profile": {"real_name": real_name, "display_name": real_name.split()[0]},
        }
        return self.dm(user_id)

    def dm(self, user_id: str) -> str:
        """The channel id of ``user_id``'s DM with the bot (Slack's are stable)."""
        channel = self._dms.setdefault(user_id, f"D{user_id.removeprefix('U')}")
        self._channels.add(channel)
        return channel

    def add_channel(self, channel: str) -> None:
        self._channels.add(channel)

    def forget_channel(self, channel: str) -> None:
        """The channel is gone (the person left the workspace): posting there fails."""
        self._channels.discard(channel)

    # -- what the bot did -------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[Message]:
        """Messages the bot posted and Slack accepted, in order (as they are now)."""
        if channel is not None:
            return list(self.messages.get(channel, []))
        return [m for ms in self.messages.values() for m in ms]

    def button(self, channel: str, label: str) -> tuple[Message, dict[str, Any]]:
        """The newest message in ``channel`` with a button whose label contains ``label``."""
        for message in reversed(self.posted(channel)):
            for element in message.buttons:
                if label in element["text"]["text"]:
                    return message, element
        labels = [e["text"]["text"] for m in self.posted(channel) for e in m.buttons]
        raise AssertionError(f"no button {label!r} in {channel}: {labels}")

    # -- failures ---------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        kind: str,
        *,
        times: int = 1,
        channel: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (in ``channel`` only, if given) with
        ``kind``: "ratelimited" (429 with Retry-After), "500", or a Slack error code."""
        self._failures.append(_Failure(method, kind, times, channel, retry_after))

    def hold(self, method: str) -> asyncio.Event:
        """Answer calls to ``method`` only once the returned event is set: a slow Slack, as
        slow as the test wants it."""
        released = self._held[method] = asyncio.Event()
        return released

    async def called(self, method: str, times: int = 1, *, timeout: float = 10) -> list[Call]:
        """Wait until ``times`` calls to ``method`` have arrived (answered or not); the calls."""
        async with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.calls_to(method)) >= times)
            await asyncio.wait_for(arrived, timeout)
        return self.calls_to(method)

    # -- Slack calling the bot --------------------------------------------------------------

    async def deliver(
        self,
        body: str | bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | EllipsisType | None = ...,
        headers: dict[str, str] | None = None,
    ) -> Delivered:
        """Post ``body`` to the bot, signed with ``secret`` (``...``: the right one; ``None``:
        no signature) at ``timestamp`` (default: now)."""
        assert self._session is not None, "start() the fake first"
        assert self.request_url is not None, "set request_url to the bot's endpoint"
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, **(headers or {})}
        key = self.signing_secret if secret is ... else secret
        if key is not None:
            sent["X-Slack-Signature"] = signature(key, stamp, body)
        raw = body.encode() if isinstance(body, str) else body
        async with self._session.post(self.request_url, data=raw, headers=sent) as r:
            return Delivered(r.status, await r.text())

    async def url_verification(self, challenge: str) -> Delivered:
        body = {"token": "legacy", "challenge": challenge, "type": "url_verification"}
        return await self.deliver(json.dumps(body), "application/json")

    def event_body(self, event: dict[str, Any], *, event_id: str | None = None) -> str:
        envelope = {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        return json.dumps(envelope)

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> Delivered:
        """An Events API callback; ``retry_num`` adds Slack's retry headers."""
        return await self.deliver(
            self.event_body(event, event_id=event_id),
            "application/json",
            headers=_retry_headers(retry_num),
        )

    def message_event(
        self, user: str, text: str, *, channel: str | None = None, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """What Slack sends when ``user`` writes ``text`` in their DM with the bot (in the
        thread of the message ``thread_ts``)."""
        event = {
            "type": "message",
            "channel": channel or self.dm(user),
            "channel_type": "im",
            "user": user,
            "text": encode(text),
            "ts": self._next_ts(),
            "team": TEAM_ID,
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return event

    def channel_post(self, user: str, channel: str, text: str) -> dict[str, Any]:
        """``user`` posts ``text`` in ``channel``: kept in its history, and the event for it."""
        self.add_channel(channel)
        event = {
            "type": "message",
            "channel": channel,
            "channel_type": "channel",
            "user": user,
            "text": encode(text),
            "ts": self._next_ts(),
            "team": TEAM_ID,
        }
        self.history.setdefault(channel, []).append(event)
        return event

    def file_share(
        self, user: str, name: str, content: bytes, *, mimetype: str = "text/csv"
    ) -> dict[str, Any]:
        """What Slack sends when ``user`` shares a file in their DM with the bot; the file is
        served at its url_private from now on."""
        file_id = f"F{next(self._ids):06d}"
        self.shared[file_id] = (mimetype, content)
        url = f"http://127.0.0.1:{self._port}/files-pri/{file_id}/{name}"
        file = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1].lower(),
            "size": len(content),
            "url_private": url,
            "url_private_download": f"{url}?download=1",
        }
        return {**self.message_event(user, ""), "subtype": "file_share", "files": [file]}

    async def dm_message(
        self,
        user: str,
        text: str,
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        thread_ts: str | None = None,
    ) -> Delivered:
        return await self.event(
            self.message_event(user, text, thread_ts=thread_ts),
            event_id=event_id,
            retry_num=retry_num,
        )

    def command_form(
        self, user: str, text: str, *, command: str = "/oppbot", channel: str | None = None
    ) -> dict[str, str]:
        channel = channel or self.dm(user)
        return {
            "token": "legacy",
            "team_id": TEAM_ID,
            "team_domain": "school",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user,
            "user_name": self.users.get(user, {}).get("name", user.lower()),
            "command": command,
            "text": encode(text),
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.response_url(),
            "trigger_id": f"{next(self._ids)}.{TEAM_ID}.trigger",
        }

    async def slash(
        self,
        user: str,
        text: str,
        *,
        command: str = "/oppbot",
        channel: str | None = None,
        **signing: Any,
    ) -> Delivered:
        """``user`` runs ``command text`` (in their DM with the bot unless ``channel``)."""
        form = self.command_form(user, text, command=command, channel=channel)
        return await self.deliver(urlencode(form), "application/x-www-form-urlencoded", **signing)

    def click_payload(
        self, user: str, message: Message, button: dict[str, Any], *, ephemeral: bool = False
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "legacy",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": ephemeral,
                **({"thread_ts": message.thread_ts} if message.thread_ts else {}),
            },
            "trigger_id": f"{next(self._ids)}.{TEAM_ID}.trigger",
            "team": {"id": TEAM_ID, "domain": "school"},
            "channel": {"id": message.channel, "name": "directmessage"},
            "message": message.as_event(),
            "response_url": self.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "b",
                    "text": button["text"],
                    "value": button.get("value"),
                    "action_ts": self._next_ts(),
                }
            ],
        }
        if ephemeral:  # Slack does not send back a message only one person could see
            del payload["message"]
        return payload

    async def click(self, user: str, label: str, *, channel: str | None = None) -> Delivered:
        """``user`` presses the newest button labelled like ``label`` in their DM."""
        message, button = self.button(channel or self.dm(user), label)
        return await self.interaction(self.click_payload(user, message, button))

    async def open_home(self, user: str) -> Delivered:
        """``user`` opens the bot's App Home tab."""
        event = {"type": "app_home_opened", "user": user, "channel": self.dm(user), "tab": "home"}
        return await self.event(event)

    async def click_home(self, user: str, label: str) -> Delivered:
        """``user`` presses the first button labelled like ``label`` on their App Home."""
        view = self.home[user]
        for block in view["blocks"]:
            for button in block.get("elements", []) if block["type"] == "actions" else []:
                if label in button["text"]["text"]:
                    payload = {
                        "type": "block_actions",
                        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
                        "api_app_id": APP_ID,
                        "token": "legacy",
                        "container": {"type": "view", "view_id": view["id"]},
                        "trigger_id": f"{next(self._ids)}.{TEAM_ID}.trigger",
                        "team": {"id": TEAM_ID, "domain": "school"},
                        "view": view,
                        "actions": [
                            {
                                "type": "button",
                                "action_id": button["action_id"],
                                "block_id": "b",
                                "text": button["text"],
                                "value": button.get("value"),
                                "action_ts": self._next_ts(),
                            }
                        ],
                    }
                    return await self.interaction(payload)
        raise AssertionError(f"no button {label!r} on {user}'s home")

    async def click_ephemeral(self, user: str, label: str) -> Delivered:
        """``user`` presses a button on the newest ephemeral message shown to them."""
        for shown_to, message in reversed(self.ephemeral):
            buttons = [b for b in message.buttons if label in b["text"]["text"]]
            if shown_to == user and buttons:
                payload = self.click_payload(user, message, buttons[0], ephemeral=True)
                return await self.interaction(payload)
        raise AssertionError(f"no ephemeral button {label!r} for {user}")

    async def submit_view(
        self, user: str, view_id: str, values: dict[str, str | list[str]]
    ) -> Delivered:
        """``user`` submits the open modal ``view_id`` with ``values`` by input block id: the
        text typed, or the value of the option(s) chosen, or the date picked (YYYY-MM-DD). An
        input left out keeps its initial option; Slack refuses to submit a required one empty."""
        view = self.views[view_id]
        values = {**self.typed.get(view_id, {}), **values}
        for block in view["blocks"]:
            given = values.get(block.get("block_id", "")) or block.get("element", {}).get(
                "initial_option"
            )
            if block["type"] == "input" and not given and not block.get("optional"):
                raise AssertionError(f"Slack would not submit {block['block_id']} empty")
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "school"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "legacy",
            "trigger_id": f"{next(self._ids)}.{TEAM_ID}.trigger",
            "view": {**view, "state": self._state(view, values), "team_id": TEAM_ID},
            "response_urls": [],
        }
        answer = await self.interaction(payload)
        # What Slack does with the modal on the bot's answer: "errors" keeps it as it is.
        action = json.loads(answer.body) if answer.body else {}
        if action.get("response_action") == "push":
            pushed = f"V{next(self._ids):06d}"
            self.views[pushed] = {**_view(action), "id": pushed, "hash": self._hash()}
        elif action.get("response_action") == "update":
            self.views[view_id] = {**_view(action), "id": view_id, "hash": self._hash()}
        return answer

    async def choose(self, user: str, view_id: str, block_id: str, value: str | list[str]) -> None:
        """``user`` changes input ``block_id`` of the open modal to ``value``; Slack tells the
        bot (block_actions) if the input dispatches actions."""
        view = self.views[view_id]
        self.typed.setdefault(view_id, {})[block_id] = value
        (block,) = [b for b in view["blocks"] if b.get("block_id") == block_id]
        if not block.get("dispatch_action"):
            return
        element = block["element"]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "legacy",
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": f"{next(self._ids)}.{TEAM_ID}.trigger",
            "team": {"id": TEAM_ID, "domain": "school"},
            "view": {**view, "state": self._state(view, self.typed[view_id])},
            "actions": [
                {
                    "action_id": element["action_id"],
                    "block_id": block_id,
                    "action_ts": self._next_ts(),
                    **_element_state(element, value),
                }
            ],
        }
        answer = await self.interaction(payload)
        assert answer.status == 200, answer

    def _state(
        self, view: dict[str, Any], values: dict[str, str | list[str]]
    ) -> dict[str, dict[str, Any]]:
        state: dict[str, dict[str, Any]] = {}
        for block in view["blocks"]:
            if block["type"] == "input":
                element = block["element"]
                value = values.get(block["block_id"])
                if value is None and "initial_option" in element:
                    value = element["initial_option"]["value"]
                state[block["block_id"]] = {element["action_id"]: _element_state(element, value)}
        return {"values": state}

    def view_named(self, callback_id: str) -> str:
        """The id of the newest modal with ``callback_id``."""
        found = [v for v, view in self.views.items() if view.get("callback_id") == callback_id]
        assert found, f"no modal {callback_id!r}"
        return found[-1]

    async def suggest(self, user: str, view_id: str, block_id: str, typed: str) -> list[Any]:
        """``user`` types ``typed`` into the external select ``block_id`` of the open modal:
        the (value, label) of the options the bot answers with, checked as Slack does."""
        view = self.views[view_id]
        (block,) = [b for b in view["blocks"] if b.get("block_id") == block_id]
        element = block["element"]
        assert element["type"] in ("external_select", "multi_external_select"), element
        payload = {
            "type": "block_suggestion",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": "school"},
            "api_app_id": APP_ID,
            "token": "legacy",
            "container": {"type": "view", "view_id": view_id},
            "action_id": element["action_id"],
            "block_id": block_id,
            "value": typed,
            "view": view,
        }
        answer = await self.interaction(payload)
        assert answer.status == 200, answer
        options = json.loads(answer.body)["options"]
        assert len(options) <= MAX_SUGGESTED
        for option in options:
            assert option["text"]["type"] == "plain_text"
            assert 1 <= len(option["text"]["text"]) <= MAX_OPTION_TEXT
            assert 1 <= len(option["value"]) <= MAX_OPTION_VALUE
        return [(o["value"], o["text"]["text"]) for o in options]

    async def interaction(self, payload: dict[str, Any], **signing: Any) -> Delivered:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.deliver(body, "application/x-www-form-urlencoded", **signing)

    async def socket_request(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0
    ) -> dict[str, Any]:
        """Send one Socket Mode envelope ("events_api", "slash_commands", "interactive") over
        the bot's WebSocket and return its acknowledgement."""
        await asyncio.wait_for(self._socket_open.wait(), 10)
        assert self._socket is not None
        envelope_id = f"env-{next(self._ids)}"
        acked = self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        await self._socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(acked, 10)

    def response_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/respond/{next(self._ids)}"

    # -- the HTTP side ----------------------------------------------------------------------

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1})
        self._socket_open.set()
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                ack = json.loads(frame.data)
                acked = self._acks.pop(ack.get("envelope_id"), None)
                if acked is not None and not acked.done():
                    acked.set_result(ack)
        self._socket_open.clear()
        return socket

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self._uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="not found")
        upload.content = await request.read()
        if len(upload.content) != upload.length:
            return web.Response(status=400, text="length mismatch")
        return web.Response(text=f"OK - {upload.length}")

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        self.downloads.append((file_id, token))
        if file_id in self.redirects:
            raise web.HTTPFound(self.redirects[file_id])
        if file_id not in self.shared or token != self.token:
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        mimetype, content = self.shared[file_id]
        return web.Response(body=content, content_type=mimetype)

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append((str(request.url), await request.json()))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        call = Call(method, params, token)
        self.calls.append(call)
        async with self._arrived:
            self._arrived.notify_all()
        if method in self._held:
            await self._held[method].wait()
        headers: dict[str, str] = {}
        try:
            handler = _METHODS.get(method)
            if handler is None:
                raise _ApiError("unknown_method")
            # Socket Mode's connection is opened with the app-level token, all else the bot's.
            if token != (self.app_token if method == "apps.connections.open" else self.token):
                raise _ApiError("invalid_auth")
            self._take_failure(call)
            body = {"ok": True, **handler(self, params)}
            call.status = 200
        except _ApiError as error:
            call.status, call.error = error.status, error.error
            if error.status == 500:
                return web.Response(status=500, text="Internal Server Error")
            if error.retry_after is not None:
                headers["Retry-After"] = str(error.retry_after)
            body = {"ok": False, "error": error.error}
        return web.json_response(body, status=call.status, headers=headers)

    def _take_failure(self, call: Call) -> None:
        for failure in self._failures:
            if failure.method == call.method and failure.channel in (
                None,
                call.params.get("channel"),
            ):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                if failure.kind == "ratelimited":
                    raise _ApiError("ratelimited", 429, failure.retry_after)
                if failure.kind == "500":
                    raise _ApiError("internal_error", 500)
                raise _ApiError(failure.kind)

    # -- Web API methods --------------------------------------------------------------------

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self._port}/socket"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://school.slack.com/",
            "team": "School",
            "user": "oppbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        text, blocks = _content(params)
        thread_ts = params.get("thread_ts") or None
        # Slack answers in a thread only under a message of the same channel.
        if thread_ts is not None and not any(
            m.ts == thread_ts for m in self.messages.get(channel, [])
        ):
            raise _ApiError("thread_not_found")
        message = Message(channel, self._next_ts(), text, blocks, thread_ts=thread_ts)
        self.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message.ts, "message": message.as_event()}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        found = [m for m in self.messages.get(channel, []) if m.ts == params.get("ts")]
        if not found:
            raise _ApiError("message_not_found")
        text, blocks = _content(params)
        message = found[0]
        message.text, message.blocks = text, blocks
        message.updates += 1
        return {"channel": channel, "ts": message.ts, "text": text}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        user = str(params.get("user"))
        if user not in self.users:
            raise _ApiError("user_not_in_channel")
        text, blocks = _content(params)
        message = Message(channel, self._next_ts(), text, blocks)
        self.ephemeral.append((user, message))
        return {"message_ts": message.ts}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        latest = str(params.get("latest") or "9999999999.999999")
        inclusive = str(params.get("inclusive")).lower() in ("1", "true")
        found = [
            m
            for m in reversed(self.history.get(channel, []))
            if m["ts"] < latest or (inclusive and m["ts"] == latest)
        ]
        return {"messages": found[: int(params.get("limit") or 100)], "has_more": False}

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(params.get("filename") or ""), int(params.get("length") or 0)
        if not filename or length <= 0:
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._ids):06d}"
        self._uploads[file_id] = SharedFile(file_id, filename, length)
        return {"upload_url": f"http://127.0.0.1:{self._port}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel({"channel": params.get("channel_id")})
        done = []
        for entry in json.loads(params.get("files") or "[]"):
            upload = self._uploads.pop(entry.get("id"), None)
            if upload is None or len(upload.content) != upload.length:
                raise _ApiError("file_not_found")
            upload.title = entry.get("title") or upload.filename
            self.files.setdefault(channel, []).append(upload)
            done.append({"id": upload.id, "name": upload.filename, "title": upload.title})
        return {"files": done}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users") or "")
        if users not in self.users:
            raise _ApiError("user_not_found")
        return {"channel": {"id": self.dm(users)}}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": user}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise _ApiError("invalid_trigger_id")
        view = _view(params)
        view_id = f"V{next(self._ids):06d}"
        self.views[view_id] = {**view, "id": view_id, "hash": self._hash()}
        return {"view": self.views[view_id]}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if view_id not in self.views:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != self.views[view_id]["hash"]:
            raise _ApiError("hash_conflict")
        self.views[view_id] = {**_view(params), "id": view_id, "hash": self._hash()}
        return {"view": self.views[view_id]}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id"))
        if user not in self.users:
            raise _ApiError("user_not_found")
        view = _view(params)
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments")
        if len(view.get("blocks") or []) > MAX_BLOCKS:
            raise _ApiError("invalid_blocks")
        view = {**view, "id": f"VH{user}"}
        self.home[user] = view
        return {"view": view}

    # -- helpers ----------------------------------------------------------------------------

    def _channel(self, params: dict[str, Any]) -> str:
        channel = str(params.get("channel") or "")
        if channel not in self._channels:
            raise _ApiError("channel_not_found")
        return channel

    def _hash(self) -> str:
        return f"{next(self._ids)}.hash"

    def _next_ts(self) -> str:
        return f"1790000000.{next(self._ts):06d}"


_METHODS = {
    "apps.connections.open": FakeSlack._connections_open,
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.update": FakeSlack._update,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "files.getUploadURLExternal": FakeSlack._get_upload_url,
    "files.completeUploadExternal": FakeSlack._complete_upload,
    "conversations.open": FakeSlack._conversations_open,
    "conversations.history": FakeSlack._history,
    "users.info": FakeSlack._users_info,
    "views.open": FakeSlack._views_open,
    "views.update": FakeSlack._views_update,
    "views.publish": FakeSlack._views_publish,
}


def _element_state(element: dict[str, Any], value: str | list[str] | None) -> dict[str, Any]:
    """The view state Slack sends for one input element holding ``value``."""
    kind = element["type"]
    options = {o["value"]: o for o in element.get("options") or []}
    # External selects: the options chosen from the bot's answer (see ``suggest``).
    if kind == "external_select":
        chosen = {"text": {"type": "plain_text", "text": str(value)}, "value": value}
        return {"type": kind, "selected_option": chosen if value else None}
    if kind == "multi_external_select":
        chosen_all = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in value or []]
        return {"type": kind, "selected_options": chosen_all}
    if kind == "timepicker":
        return {"type": kind, "selected_time": value}
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": options[str(value)] if value else None}
    if kind in ("multi_static_select", "checkboxes"):
        return {"type": kind, "selected_options": [options[v] for v in value or []]}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    return {"type": kind, "value": value}


def _retry_headers(retry_num: int | None) -> dict[str, str]:
    if retry_num is None:
        return {}
    return {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string and body (JSON or form); JSON-encoded form fields (blocks, view) decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    else:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for name in ("blocks", "view", "attachments"):
        if isinstance(params.get(name), str):
            params[name] = json.loads(params[name])
    return params


def _content(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Check a message's text and blocks as Slack does."""
    text = str(params.get("text") or "")
    blocks = params.get("blocks") or []
    if not text and not blocks:
        raise _ApiError("no_text")
    _check_blocks(blocks)
    return text, blocks


def _check_blocks(blocks: list[dict[str, Any]]) -> None:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise _ApiError("invalid_blocks")
    action_ids: set[str] = set()
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            text = block.get("text") or {}
            if text.get("type") not in ("mrkdwn", "plain_text"):
                raise _ApiError("invalid_blocks")
            if not 1 <= len(text.get("text") or "") <= MAX_SECTION_TEXT:
                raise _ApiError("invalid_blocks")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= MAX_ACTIONS:
                raise _ApiError("invalid_blocks")
            for element in elements:
                label = (element.get("text") or {}).get("text") or ""
                action_id = element.get("action_id") or ""
                if not 1 <= len(label) <= MAX_BUTTON_TEXT:
                    raise _ApiError("invalid_blocks")
                if len(action_id) > MAX_ACTION_ID or action_id in action_ids:
                    raise _ApiError("invalid_blocks")
                if len(element.get("value") or "") > MAX_BUTTON_VALUE:
                    raise _ApiError("invalid_blocks")
                action_ids.add(action_id)
        elif kind == "input":
            _check_input(block)
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 1 <= len(text.get("text") or "") <= 150:
                raise _ApiError("invalid_blocks")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10 or any(
                not 1 <= len(e.get("text") or "") <= MAX_SECTION_TEXT for e in elements
            ):
                raise _ApiError("invalid_blocks")
        elif kind != "divider":
            raise _ApiError("invalid_blocks")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        raise _ApiError("invalid_blocks")


def _check_input(block: dict[str, Any]) -> None:
    element = block.get("element") or {}
    kind = element.get("type")
    if kind not in INPUT_ELEMENTS or not element.get("action_id"):
        raise _ApiError("invalid_blocks")
    texts = [(block.get("label"), MAX_LABEL), (block.get("hint"), MAX_LABEL)]
    texts.append((element.get("placeholder"), MAX_PLACEHOLDER))
    if block.get("label") is None:
        raise _ApiError("invalid_blocks")
    options = element.get("options")
    if kind in MAX_OPTIONS or kind == "checkboxes":
        if not options or len(options) > MAX_OPTIONS.get(kind, 10):
            raise _ApiError("invalid_blocks")
        for option in options:
            texts.append((option.get("text"), MAX_OPTION_TEXT))
            if not 1 <= len(option.get("value") or "") <= MAX_OPTION_VALUE:
                raise _ApiError("invalid_blocks")
        initial = element.get("initial_option")
        if initial is not None and initial not in options:
            raise _ApiError("invalid_blocks")
    elif options is not None:
        raise _ApiError("invalid_blocks")
    for text, limit in texts:
        if text is not None and (
            text.get("type") != "plain_text" or not 1 <= len(text.get("text") or "") <= limit
        ):
            raise _ApiError("invalid_blocks")


def _view(params: dict[str, Any]) -> dict[str, Any]:
    view = params.get("view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise _ApiError("invalid_arguments")
    for name in ("title", "submit", "close"):
        text = (view.get(name) or {}).get("text")
        if text is not None and not 1 <= len(text) <= MAX_MODAL_TITLE:
            raise _ApiError("invalid_arguments")
    if len(view.get("private_metadata") or "") > MAX_METADATA:
        raise _ApiError("invalid_arguments")
    _check_blocks(view.get("blocks") or [])
    return view
