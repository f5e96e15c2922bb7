"""The benchmark's Bot API stub answers oppbot's own Bot API client as Telegram would."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import TelegramError

from bench.botapi import BotApiStub
from bot.telegram import AiohttpRequest


async def test_the_stub_answers_what_oppbot_run_calls_and_counts_the_messages() -> None:
    async with BotApiStub() as api:
        request = AiohttpRequest(api.base_url.removesuffix("/bot"))
        bot = Bot("123456:BENCH", base_url=api.base_url, request=request)
        async with bot:
            assert bot.username == "bench_bot"
            assert await bot.set_webhook("http://127.0.0.1:1/telegram")
            first = await bot.send_message(42, "Here are the listings.")
            second = await bot.send_message(42, "And more.")
            assert (first.chat.id, first.text) == (42, "Here are the listings.")
            assert second.message_id == first.message_id + 1
            await api.until_sent(2)
            assert api.sent == 2
            with pytest.raises(TelegramError):
                await bot.get_chat(42)  # not a method the benchmark's processes call
            assert api.sent == 2
