"""Voicemail PINs read live from Asterisk's voicemail.conf (directory_source = asterisk).

A PIN check costs a stat of each file the last reading read (and a listing per glob include); only
a change reads and parses again. A reading that fails — a file unreadable, broken, or caught
half-written (a last line without its newline, an empty voicemail.conf) — leaves the last good
reading in force, and the problem is logged once: a broken file neither lets a wrong PIN in nor
locks everyone out. Before any good reading there are no PINs to check against: Unavailable.

voicemail.conf's mailbox lines: `mailbox => password,full name,email,pager email,options` in a
context section (`[default]` as FreePBX writes it). A password starting with `-` (the user may not
change it) is checked without the `-`; a mailbox defined twice keeps its first line, as
app_voicemail does ("Ignoring duplicated mailbox").
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from hotdesk.pbx import config

log = logging.getLogger("hotdesk.pbx")
FILE = "voicemail.conf"
NOT_CONTEXTS = frozenset({"general", "zonemessages"})  # voicemail.conf's own sections, no mailboxes


class Unavailable(RuntimeError):
    """voicemail.conf has never been read whole: no PIN can be checked."""


@dataclass
class _Source:
    mailboxes: dict[tuple[str, str], str | None] | None = None  # (context, mailbox) -> PIN; None: never read
    watch: config.Watch | None = None
    signature: tuple = ()
    failed: tuple | None = None  # the signature of the failed reading: not read again until it changes
    failed_watch: config.Watch | None = None
    problem: str | None = None  # logged once
    lock: threading.Lock = field(default_factory=threading.Lock)


class VoicemailPins:
    """The PINs of every configuration directory asked about, each kept to its last good reading."""

    def __init__(self) -> None:
        self._sources: dict[str, _Source] = {}
        self._lock = threading.Lock()

    def pin(self, directory: str, context: str, mailbox: str) -> str | None:
        """The mailbox's PIN now; None: no such mailbox, or one without a password. Unavailable
        when no good reading was ever made."""
        mailboxes = self.mailboxes(directory)
        return mailboxes.get((context.lower(), mailbox.lower()))

    def mailboxes(self, directory: str) -> dict[tuple[str, str], str | None]:
        directory = os.path.abspath(directory)
        with self._lock:
            source = self._sources.setdefault(directory, _Source())
        with source.lock:
            self._refresh(directory, source)
            if source.mailboxes is None:
                raise Unavailable(source.problem or f"{FILE} has not been read")
            return source.mailboxes

    def _refresh(self, directory: str, source: _Source) -> None:
        if source.watch is not None and source.watch.signature() == source.signature and source.signature:
            return
        if source.failed_watch is not None and source.failed_watch.signature() == source.failed:
            return
        try:
            reading = config.read(directory, FILE, complete_lines=True)
        except config.ConfigError as error:
            failed_watch = error.watch or config.Watch((os.path.join(directory, FILE),))
            source.failed_watch, source.failed = failed_watch, failed_watch.signature()
            if str(error) != source.problem:
                kept = "the last good reading stays" if source.mailboxes is not None else "no PIN can be checked"
                log.warning("voicemail PINs: %s; %s", error, kept)
                source.problem = str(error)
            return
        source.mailboxes = mailboxes_of(reading.sections)
        source.watch, source.signature = reading.watch, reading.signature
        source.failed = source.failed_watch = None
        if source.problem is not None:
            log.warning("voicemail PINs: %s read again, %d mailbox(es)", FILE, len(source.mailboxes))
            source.problem = None


def mailboxes_of(sections: list[config.Section]) -> dict[tuple[str, str], str | None]:
    found: dict[tuple[str, str], str | None] = {}
    for section in sections:
        context = section.name.lower()
        if section.template or context in NOT_CONTEXTS:
            continue
        for mailbox, value in section.options:
            key = (context, mailbox.strip().lower())
            if key in found:
                continue
            password = value.split(",", 1)[0].strip().removeprefix("-")
            found[key] = password or None
    return found


PINS = VoicemailPins()  # the process's: every worker thread checks against the same readings
