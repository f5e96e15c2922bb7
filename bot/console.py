"""A terminal adapter: the same core as Telegram and Slack, with no tokens.

Buttons are shown as numbered choices; typing a number (or a button's exact label) presses it.
Standard input may be piped, one message a line, so that a session can be scripted. Messages
that other people's actions queued for this console user (the outbox) are shown as they
arrive, between turns. ``/import PATH`` sends the local file PATH, as a file sent on Telegram
or Slack would be (only here: no other adapter reads the server's files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import MAX_FILE_BYTES, Attachment, Button, Core, Incoming, Reply, file_too_big
from bot.i18n import _, language
from storage.db import transaction
from storage.models import Account, OutboxMessage, OutboxStatus
from storage.outbox import MessageRef, waiting_for_earlier

PLATFORM = "console"
_IMPORT = re.compile(r"/import\s+(.+)", re.IGNORECASE)


class ConsoleChat:
    """One person's conversation with the core on the terminal."""

    def __init__(
        self,
        core: Core,
        session_factory: sessionmaker[Session],
        user: str,
        out: TextIO,
        *,
        echo: bool = False,
        background: Callable[[], object] | None = None,
    ) -> None:
        self.core = core
        # What `oppbot run` leaves to its scheduler and that a turn may start (a big import).
        self.background = background
        self.session_factory = session_factory
        self.name = " ".join(user.split())
        self.user_id = self.name.lower()
        self.out = out
        self.echo = echo
        self.buttons: list[Button] = []

    def _speaking(self) -> AbstractContextManager[str]:
        """``with self._speaking():`` words what the console itself says in the person's
        language (English until they are known), as the core words its replies."""
        return language(self.core.language_of(PLATFORM, self.user_id))

    def run(self, lines: Iterable[str]) -> None:
        with self._speaking():
            self._print(_("Type /start to begin, /help for commands. Ctrl-D leaves."))
        self.deliver()
        for line in lines:
            text = line.rstrip("\r\n")
            if self.echo:
                self._print(f"> {text}")
            self.say(text)

    def say(self, text: str) -> None:
        button = self._button_for(text.strip())
        file = None if button else self._file(text)
        if isinstance(file, Reply):
            self.show([file])
            return
        incoming = Incoming(
            platform=PLATFORM,
            user_id=self.user_id,
            chat_id=self.user_id,
            text=None if button or file else text,
            payload=button.payload if button else None,
            display_name=self.name,
            file=file,
        )
        self.show(self.core.handle(incoming))
        if self.background is not None:
            self.background()
        self.deliver()

    def _file(self, text: str) -> Attachment | Reply | None:
        """The local file that "/import PATH" sends, or why it can't be sent."""
        match = _IMPORT.fullmatch(text.strip())
        if match is None:
            return None
        path = Path(match.group(1).strip()).expanduser()
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                return file_too_big(size)
            return Attachment(path.name, path.read_bytes(), "application/octet-stream")
        except OSError as error:
            with self._speaking():
                return Reply(
                    _(
                        "I can't read {path}: {error}.",
                        path=str(path),
                        error=error.strerror or error,
                    )
                )

    def _button_for(self, text: str) -> Button | None:
        for button in self.buttons:
            if text == button.label:
                return button
        # isascii: "²" is a digit to isdigit(), but not a number int() reads.
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return self.buttons[int(text) - 1]
        return None

    def show(self, replies: list[Reply]) -> None:
        if not replies:
            return
        self.buttons = []
        for reply in replies:
            self._print(reply.text)
            if reply.track is not None:
                # A terminal cannot change what it printed: an edit of it is printed anew.
                self.core.shown(reply.track, MessageRef(self.user_id, reply.track))
            if reply.file is not None:
                self._save(reply.file)
            self._print_buttons(reply.buttons)

    def _save(self, file: Attachment) -> None:
        # Only the name: a path in it must not write outside the current directory.
        path = Path.cwd() / Path(file.filename).name
        path.write_bytes(file.content)
        with self._speaking():
            self._print(_("[file] {path}", path=str(path)))

    def _print_buttons(self, rows: Iterable[Iterable[Button]]) -> None:
        for row in rows:
            labels = []
            for button in row:
                self.buttons.append(button)
                labels.append(f"[{len(self.buttons)}] {button.label}")
            self._print("   " + "   ".join(labels))

    def deliver(self) -> None:
        """Show and mark sent what the outbox holds for this console user."""
        # Rounds: a reply in a thread or an edit waits for its message, as on a platform, so
        # it is shown in the round after that message's.
        first = True
        while self._deliver_round(first):
            first = False

    def _deliver_round(self, first: bool) -> bool:
        with self._speaking(), transaction(self.session_factory) as session:
            pending = session.scalars(
                select(OutboxMessage)
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(
                    Account.platform == PLATFORM,
                    Account.external_id == self.user_id,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    # Held back for a later time (a student's quiet hours) until then.
                    OutboxMessage.next_attempt_at <= self.core.clock(),
                    ~waiting_for_earlier(),
                )
                .order_by(OutboxMessage.id)
            ).all()
            if pending and first:
                self.buttons = []
            for message in pending:
                self._print(f"{self._label(session, message)} {message.text}")
                rows = message.buttons or []
                self._print_buttons(
                    [Button(label, payload) for label, payload in row] for row in rows
                )
                message.status = OutboxStatus.SENT
                message.attempts += 1
                message.sent_at = self.core.clock()
                # Somewhere to point at, so that a later edit of it is shown too.
                message.sent_chat_id, message.sent_message_id = self.user_id, str(message.id)
            return bool(pending)

    @staticmethod
    def _label(session: Session, message: OutboxMessage) -> str:
        """How a message from the outbox is introduced: a terminal can neither thread nor
        edit, so it says which earlier message this one answers or replaces."""
        earlier_key = message.edits or message.thread_of
        earlier = (
            session.scalar(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == earlier_key)
            )
            if earlier_key is not None
            else None
        )
        if earlier is None:
            return _("[message]")
        about = earlier.text.splitlines()[0][:40] if earlier.text else ""
        if message.edits:
            return _('[update of "{message}"]', message=about)
        return _('[reply to "{message}"]', message=about)

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
