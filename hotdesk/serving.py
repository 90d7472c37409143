"""What gunicorn runs hotdesk with (deploy/gunicorn.conf.py, and so `make run`): a worker that
gives a thread only a request that has fully arrived, and an error log without query strings.

**Slow clients.** gunicorn's gthread worker hands a connection to a thread as soon as its first
byte arrives; the thread then reads the request line and headers with blocking reads. A client
that trickles its headers a byte at a time (slowloris) holds that thread for as long as it likes,
and eight such clients held every thread of `make run` (4 workers × 2 threads): no phone was
answered. gunicorn 27 has no setting that bounds the reading of a request (its `timeout` is the
worker's heartbeat, `keepalive` only the wait between requests, and gthread's 5 s data wait
ends at the first byte); an async worker (gevent) would mean a dependency that monkeypatches the
NOTIFY threads, the sightings writer and the database drivers.

`RequestFirstWorker` is gthread with one change: the worker's own event loop reads each request
(line, headers and a body of up to `BUFFERED_BODY` bytes) without blocking, alongside all other
connections, and only a complete request goes to a thread, which then parses it from memory. A
request that has not fully arrived `REQUEST_READ_TIMEOUT` seconds after its first wait began is
dropped. A slow client thus costs a socket and a buffer, never a thread; a phone, whose request
arrives in one segment, goes to a thread at once. (TLS connections, which `make run` never
serves — nginx ends TLS — keep gthread's own path.)

**Query strings.** gunicorn's error log quotes a malformed request line, and the failing request's
URI, verbatim; phone-app GETs carry the PIN in the query. `QueryFreeLogger` cuts every query
string out of what gunicorn logs (and out of the access log, should anyone turn it on).
"""

from __future__ import annotations

import os
import re
import selectors
import time
from collections import deque
from contextlib import suppress
from functools import partial

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from hotdesk.logs import Scrub, formatter

REQUEST_READ_TIMEOUT = 10.0  # seconds from the first wait for a request to its last byte
MAX_HEAD = 64 * 1024  # request line and headers; gunicorn's own limits are tighter by default
BUFFERED_BODY = 1024 * 1024  # larger bodies (a console CSV import) are read by the thread
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_READS_BODY_ITSELF = re.compile(rb"^(?:transfer-encoding|expect):", re.IGNORECASE | re.MULTILINE)
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class RequestFirstWorker(ThreadWorker):
    """gthread, except that a thread gets a connection only once its request has fully arrived."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arriving: deque = deque()  # connections whose request is still arriving, oldest first

    def enqueue_req(self, conn):
        if getattr(conn, "arrived", False) or self.cfg.is_ssl:
            conn.arrived = False
            super().enqueue_req(conn)
            return
        # A new connection, a kept-alive one that became readable, or one whose last request left
        # read-ahead bytes in the parser: gather the (next) request in the event loop first.
        conn.gathered = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.read_by = time.monotonic() + REQUEST_READ_TIMEOUT
        conn.sock.setblocking(False)
        if self._arrived(conn):
            self._hand_over(conn)
            return
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, sock):
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was complete
            self._forget(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.gathered += chunk
        if self._arrived(conn):
            self._forget(conn)
            self._hand_over(conn)
        elif _HEAD_END.search(conn.gathered) is None and len(conn.gathered) > MAX_HEAD:
            self._forget(conn)
            self.nr_conns -= 1
            with suppress(OSError):
                sock.send(_TOO_LARGE)
            conn.close()

    @staticmethod
    def _arrived(conn) -> bool:
        """Is the request complete: its head, and its body unless the thread must read that itself?"""
        end = _HEAD_END.search(conn.gathered)
        if end is None:
            return False
        head = bytes(conn.gathered[: end.start()])
        if _READS_BODY_ITSELF.search(head):  # chunked, or a client waiting for "100 Continue"
            return True
        length = _CONTENT_LENGTH.search(head)
        if length is None or int(length.group(1)) > BUFFERED_BODY:
            return True
        return len(conn.gathered) - end.end() >= int(length.group(1))

    def _hand_over(self, conn):
        conn.init()  # no I/O without TLS: makes the parser, blocking socket for the thread
        conn.sock.setblocking(True)
        conn.parser.unreader.unread(bytes(conn.gathered))
        conn.gathered = None
        conn.data_ready = conn.arrived = True
        super().enqueue_req(conn)

    def _forget(self, conn):
        self.poller.unregister(conn.sock)
        self.arriving.remove(conn)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.arriving and self.arriving[0].read_by <= now:
            conn = self.arriving.popleft()
            with suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()


class QueryFreeLogger(Logger):
    """gunicorn's logger, with every query string and secret path cut out of its error and access
    logs (hotdesk.logs), and one JSON object a line when HOTDESK_LOG_FORMAT=json."""

    def setup(self, cfg):
        super().setup(cfg)
        json_lines = os.environ.get("HOTDESK_LOG_FORMAT", "").lower() == "json"
        for log in (self.error_log, self.access_log):
            log.addFilter(_scrub)  # once: addFilter skips a filter already there
            if json_lines:
                for handler in log.handlers:
                    handler.setFormatter(formatter("json"))


_scrub = Scrub()
