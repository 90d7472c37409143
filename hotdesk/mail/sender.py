"""Sends what is due in the mail queue: a thread in each web process (started by the app) and in
`hotdesk scheduler`, or once, by `hotdesk mail send-queued`.

Every sender looks for due mails every `INTERVAL` seconds, so a mail queued by any process (the
CLI, another worker, another host) goes out within seconds; claims (hotdesk.mail.queue) keep two
senders from sending one mail. Per mail: the message is composed (a link made and committed),
sent with no transaction open (SQLite's one writer is never held while an SMTP server thinks),
and the outcome recorded. A failure is recorded, the mail retried later; nothing else is touched.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from hotdesk.mail import access_code, password, queue, smtp
from hotdesk.mail.account import Composed, NotComposed, compose, compose_test
from hotdesk.mail.queue import MailKind
from hotdesk.models import DEFAULT_TENANT_ID, QueuedMail
from hotdesk.setting_store import Settings
from hotdesk.settings import SettingValues

log = logging.getLogger("hotdesk.mail")
INTERVAL = 2.0

Composer = Callable[[Session, QueuedMail, SettingValues, str], Composed]
# Each kind's composer: makes the message (and any secret in it) when the mail is sent.
COMPOSERS: dict[MailKind, Composer] = {
    MailKind.ACCOUNT: compose,
    MailKind.ACCESS_CODE: access_code.compose,
    MailKind.PASSWORD: password.compose,
    MailKind.TEST: lambda session, mail, settings, key: compose_test(settings, mail.recipient),
}


@dataclass
class Round:
    sent: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Attempt:
    sent: bool
    reason: str = ""  # why not


class MailSender:
    """One per process. `on_outcome("sent" | "failed")`: a counter (metrics), called once per attempt."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        registry: Settings,
        key: str,
        *,
        interval: float = INTERVAL,
        on_outcome: Callable[[str], None] | None = None,
    ):
        self._sessions, self._registry, self._key = sessions, registry, key
        self.interval = interval
        self.on_outcome = on_outcome
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:128]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="hotdesk-mail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop looking for mail; a mail being sent finishes first."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.send_due()
            except Exception:  # the database away a moment: the next round tries again
                log.exception("the mail queue could not be read")
            self._stopping.wait(self.interval)

    def send_due(self) -> Round:
        """Send every mail due now (claimed one at a time), until none is left."""
        done = Round()
        while not self._stopping.is_set():
            with self._sessions() as session:
                ids = queue.due(session)
            if not ids:
                break
            attempted = False
            for mail_id in ids:
                with self._sessions() as session:
                    claimed = queue.claim(session, mail_id, self.holder)
                    session.commit()
                if not claimed:
                    continue
                attempted = True
                if self.send(mail_id).sent:
                    done.sent += 1
                else:
                    done.failed += 1
            if not attempted:  # every due mail is another sender's
                break
        return done

    def send_now(self, mail_id: int) -> Attempt | None:
        """Claim and send one mail now (None: another sender has it, or it is not due)."""
        with self._sessions() as session:
            claimed = queue.claim(session, mail_id, self.holder)
            session.commit()
        return self.send(mail_id) if claimed else None

    def send(self, mail_id: int) -> Attempt:
        """Compose and send one mail this sender claimed, and record how it went."""
        with self._sessions() as session:
            mail = session.get_one(QueuedMail, mail_id)
            settings = self._registry.values(session, mail.tenant_id)
            own = self._registry.overrides(session, mail.tenant_id) if mail.tenant_id != DEFAULT_TENANT_ID else {}
            credentials = smtp.credentials_for(settings, own)
            try:
                composed = COMPOSERS[MailKind(mail.kind)](session, mail, settings, self._key)
                session.commit()  # the link exists before the mail that holds it leaves; no transaction stays open
                smtp.send(composed.message, settings, credentials=credentials, hide=composed.hide)
            except (NotComposed, smtp.MailError) as error:
                session.rollback()
                if isinstance(error, smtp.MailError):
                    composed.undo(session)
                return self._failed(session, mail, str(error), final=isinstance(error, NotComposed) and error.final)
            except Exception:
                session.rollback()
                log.exception("mail %d could not be sent", mail_id)
                return self._failed(session, mail, "an internal error (the server's log has it)")
            queue.sent(session, mail)
            session.commit()
            log.info("%s mail %d sent", mail.kind, mail.id)
            self._count("sent")
            return Attempt(True)

    def _failed(self, session: Session, mail: QueuedMail, reason: str, *, final: bool = False) -> Attempt:
        queue.failed(session, mail, reason, final=final)
        session.commit()
        log.warning("%s mail %d not sent: %s", mail.kind, mail.id, reason)
        self._count("failed")
        return Attempt(False, reason)

    def _count(self, outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
