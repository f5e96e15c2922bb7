"""Slack's Web API: the clients the adapter talks through, and the outbox's transport.

Two kinds of client, one connection pool. The adapter's answers in a conversation wait out a
rate limit as Slack asks (slack_sdk's own retry handler, at most twice), since the person is
waiting for them. The outbox's client does not: ``bot.delivery`` paces its messages itself and
records a 429 as a pause for that chat, so its transport reports the refusal (``classify``)
instead of sleeping on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Buttons, Outcome, Result
from bot.slack.render import Renderer, SlackMessage, as_buttons
from storage.outbox import MessageRef

log = logging.getLogger(__name__)

PLATFORM = "slack"
# How often an answer is tried again after a 429 (three attempts in all).
RATE_LIMIT_RETRIES = 2
# Errors that mean the person can no longer be written to in that channel.
UNREACHABLE_ERRORS = frozenset(
    {"channel_not_found", "account_inactive", "is_archived", "not_in_channel", "user_disabled"}
)
# Our token or our app's configuration is wrong: not the message's fault, and fixable by
# whoever runs the bot, so the message waits instead of failing for good.
OUR_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "missing_scope"}
)
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def web_client(token: str, base_url: str, *, wait_out_rate_limits: bool) -> AsyncWebClient:
    """A Web API client that retries a dropped connection once (slack_sdk's default) and, if
    asked, waits out a 429 as long as its Retry-After says."""
    handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler()]
    if wait_out_rate_limits:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=handlers)


def classify(error: SlackApiError) -> Result:
    """What the outbox sender should do after Slack refused a message."""
    response = error.response
    # A 5xx from a proxy has a plain-text body, not Slack's JSON.
    code = str(response.data.get("error") or "") if isinstance(response.data, dict) else ""
    if response.status_code == 429 or code in ("ratelimited", "rate_limited"):
        retry_after = float(response.headers.get("Retry-After", 1) or 1)
        return Result(Outcome.RETRY_AFTER, retry_after, code or "ratelimited")
    if code in UNREACHABLE_ERRORS:
        return Result(Outcome.UNREACHABLE, error=code)
    if response.status_code >= 500 or code in TRANSIENT_ERRORS:
        return Result(Outcome.TRANSIENT, error=f"HTTP {response.status_code} {code}".strip())
    if code in OUR_ERRORS:
        log.error("Slack refused our token or scopes (%s): check the app's installation", code)
        return Result(Outcome.TRANSIENT, error=code)
    return Result(Outcome.PERMANENT, error=code or f"HTTP {response.status_code}")


async def post(
    client: AsyncWebClient, channel: str, message: SlackMessage, *, thread_ts: str | None = None
) -> MessageRef:
    """Post ``message`` (in the thread of ``thread_ts``); returns where Slack put it."""
    response = await client.chat_postMessage(
        channel=channel,
        text=message.text,
        blocks=message.blocks,
        thread_ts=thread_ts,
        unfurl_links=False,
        unfurl_media=False,
    )
    return MessageRef(str(response["channel"]), str(response["ts"]))


class SlackTransport:
    """Sends outbox messages with chat.postMessage (in a thread: ``thread_ts``) and edits
    them with chat.update; see ``bot.delivery``."""

    platform = PLATFORM

    def __init__(
        self,
        client: AsyncWebClient,
        renderer: Renderer,
        on_sent: Callable[[str], None] = lambda chat_id: None,
    ) -> None:
        self.client = client
        self.renderer = renderer
        # Told the chat of every message sent: the adapter refreshes that person's App Home.
        self.on_sent = on_sent

    async def send(
        self, chat_id: str, text: str, buttons: Buttons | None, thread: MessageRef | None = None
    ) -> Result:
        first: MessageRef | None = None
        try:
            for message in self.renderer.render(text, as_buttons(buttons)):
                # A long message's later parts follow its first in the same thread.
                ref = await post(
                    self.client, chat_id, message, thread_ts=thread.message if thread else None
                )
                first = first or ref
        except SlackApiError as error:
            return classify(error)
        except (aiohttp.ClientError, TimeoutError, SlackClientError) as error:
            return Result(Outcome.TRANSIENT, error=f"{type(error).__name__}: {error}")
        self.on_sent(chat_id)
        return Result(Outcome.SENT, ref=first)

    async def edit(self, ref: MessageRef, text: str, buttons: Buttons | None) -> Result:
        messages = self.renderer.render(text, as_buttons(buttons))
        if len(messages) != 1:
            return Result(Outcome.PERMANENT, error="too long for one message")
        try:
            await self.client.chat_update(
                channel=ref.chat, ts=ref.message, text=messages[0].text, blocks=messages[0].blocks
            )
        except SlackApiError as error:
            return classify(error)
        except (aiohttp.ClientError, TimeoutError, SlackClientError) as error:
            return Result(Outcome.TRANSIENT, error=f"{type(error).__name__}: {error}")
        self.on_sent(ref.chat)
        return Result(Outcome.SENT, ref=ref)
