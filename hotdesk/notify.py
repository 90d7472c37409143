"""Unsolicited SIP NOTIFY (RFC 3261 / RFC 3265) telling a desk phone to re-fetch its config.

The request goes over UDP straight to the phone's address and is retransmitted with
backoff (Timer E style) until a final response arrives. NotifyDispatcher runs the
sends in background threads so the HTTP request that triggered them never waits.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from hotdesk.pbx.ami import AmiServer

log = logging.getLogger("hotdesk.notify")

# RFC 3261 token characters; Event is event-type *(;param[=value]) built from tokens.
_TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
_TOKEN_RE = re.compile(_TOKEN)
_EVENT_RE = re.compile(rf"{_TOKEN}(?:;{_TOKEN}(?:={_TOKEN})?)*")
_USER_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=?/%-]+")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9.-]+")
_CALL_ID_RE = re.compile(rf"{_TOKEN}(?:@{_TOKEN})?")
_MEDIA_TYPE_RE = re.compile(rf"{_TOKEN}/{_TOKEN}")
MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True)
class NotifyOutcome:
    delivered: bool  # a 2xx final response arrived
    status: int | None  # final status code received, None if none
    attempts: int  # datagrams sent
    detail: str  # short human text, e.g. "200 OK", "no answer after 5 attempts"


@dataclass(frozen=True)
class PbxRoute:
    """notify_via ami: the NOTIFY is asked of Asterisk's Manager Interface (hotdesk.pbx.ami)."""

    server: AmiServer
    endpoint: str | None = None  # the endpoint the phone is registered as, when known
    uri: str = ""  # else the phone's address, sip:host:port
    fallback: bool = True  # refused or unreachable: hotdesk sends it itself


@dataclass(frozen=True)
class NotifyRequest:
    host: str
    port: int
    event: str  # e.g. "check-sync;reboot=true"
    user: str | None = None
    reason: str = ""  # free text for the caller's own logs (not logged here)
    body: str = ""  # some brands' reload events carry one (e.g. "action=restart"); most want none
    content_type: str | None = None  # the body's media type, required with a body
    pbx: PbxRoute | None = None  # send it through the PBX (notify_via ami)


def _check(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def _uri_host(host: str) -> str:
    """Validate a host and return it as it must appear in a SIP URI / Via (IPv6 bracketed)."""
    if not isinstance(host, str):
        raise ValueError(f"invalid host: {host!r}")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        try:
            # The zone id (fe80::1%eth0) only matters to the kernel, never on the wire.
            ip = ipaddress.IPv6Address(bare.split("%", 1)[0])
        except ValueError:
            raise ValueError(f"invalid host: {host!r}") from None
        return f"[{ip.compressed}]"
    return _check(bare, _HOSTNAME_RE, "host")


def _check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"invalid port: {port!r}")
    return port


def _check_body(body: str, content_type: str | None) -> None:
    if not isinstance(body, str):
        raise ValueError(f"invalid body: {body!r}")
    if body:
        _check(content_type, _MEDIA_TYPE_RE, "content type")
    elif content_type is not None:
        raise ValueError("a content type without a body")


def build_notify(
    host: str,
    port: int,
    event: str,
    *,
    local_host: str,
    local_port: int,
    call_id: str,
    branch: str,
    from_tag: str,
    cseq: int = 1,
    user: str | None = None,
    body: str = "",
    content_type: str | None = None,
) -> bytes:
    """Build the NOTIFY datagram; raises ValueError on anything that could inject headers."""
    target = f"{_uri_host(host)}:{_check_port(port)}"
    local = _uri_host(local_host)
    local_port = _check_port(local_port)
    _check(event, _EVENT_RE, "event")
    _check(call_id, _CALL_ID_RE, "call_id")
    _check(from_tag, _TOKEN_RE, "from_tag")
    _check(branch, _TOKEN_RE, "branch")
    _check_body(body, content_type)
    if not branch.startswith(MAGIC_COOKIE):
        branch = MAGIC_COOKIE + branch
    if isinstance(cseq, bool) or not isinstance(cseq, int) or not 0 <= cseq < 2**31:
        raise ValueError(f"invalid cseq: {cseq!r}")
    uri = f"sip:{_check(user, _USER_RE, 'user')}@{target}" if user is not None else f"sip:{target}"
    lines = [
        f"NOTIFY {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {local}:{local_port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:hotdesk@{local}>;tag={from_tag}",
        f"To: <{uri}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} NOTIFY",
        f"Contact: <sip:hotdesk@{local}:{local_port}>",
        f"Event: {event}",
        "Subscription-State: terminated",
        "User-Agent: hotdesk",
    ]
    payload = body.encode("utf-8")
    if payload:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + payload


def _parse_response(data: bytes) -> tuple[int, str, dict[str, str]] | None:
    """Return (status, reason, headers with lower-case names) or None if not a SIP response."""
    try:
        head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0]
        lines = head.replace("\r\n", "\n").split("\n")
        version, code, *reason = lines[0].split(" ", 2)
        if version.upper() != "SIP/2.0" or len(code) != 3 or not code.isdigit():
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        return int(code), (reason[0].strip() if reason else ""), headers
    except (ValueError, IndexError):
        return None


def _resolve(host: str, port: int) -> list[tuple]:
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_DGRAM, socket.IPPROTO_UDP)


def send_notify(
    host: str,
    port: int,
    event: str,
    *,
    user: str | None = None,
    retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
    answer_timeout: float | None = None,
    body: str = "",
    content_type: str | None = None,
) -> NotifyOutcome:
    """Send one NOTIFY and wait for its final response; never raises for network problems.

    The datagram is retransmitted after each delay in retry_delays; after the last send we
    wait answer_timeout seconds (default: the last retry delay, or 1s) for an answer.
    Invalid host/event/user/body raise ValueError.
    """
    outcome = _send_notify(host, port, event, user, retry_delays, answer_timeout, body, content_type)
    log.info("NOTIFY %s:%s event=%s: %s", host, port, event, outcome.detail)
    return outcome


def _send_notify(host, port, event, user, retry_delays, answer_timeout, body, content_type) -> NotifyOutcome:
    # Fail on bad input before touching the network.
    _uri_host(host)
    _check_port(port)
    _check(event, _EVENT_RE, "event")
    if user is not None:
        _check(user, _USER_RE, "user")
    _check_body(body, content_type)
    if answer_timeout is None:
        answer_timeout = retry_delays[-1] if retry_delays else 1.0
    waits = (*retry_delays, answer_timeout)

    try:
        addrs = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        return NotifyOutcome(False, None, 0, f"send failed: {exc}")
    sock, err = None, None
    for family, type_, proto, _, sockaddr in addrs:
        try:
            sock = socket.socket(family, type_, proto)
            sock.connect(sockaddr)  # binds a local address/port we can put in Via/Contact
            break
        except OSError as exc:
            err = exc
            if sock is not None:
                sock.close()
            sock = None
    if sock is None:
        return NotifyOutcome(False, None, 0, f"send failed: {err or 'no address'}")

    with sock:
        local_host, local_port = sock.getsockname()[:2]
        call_id = secrets.token_hex(16)
        data = build_notify(
            host,
            port,
            event,
            local_host=local_host,
            local_port=local_port,
            call_id=call_id,
            branch=MAGIC_COOKIE + secrets.token_hex(12),
            from_tag=secrets.token_hex(8),
            user=user,
            body=body,
            content_type=content_type,
        )
        attempts = 0
        for wait in waits:
            try:
                _send(sock, data)
            except OSError as exc:
                return NotifyOutcome(False, None, attempts, f"send failed: {exc}")
            attempts += 1
            answer = _await_final(sock, call_id, time.monotonic() + wait)
            if answer is not None:
                status, reason = answer
                return NotifyOutcome(200 <= status < 300, status, attempts, f"{status} {reason}".strip())
    return NotifyOutcome(False, None, attempts, f"no answer after {attempts} attempts")


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except OSError:
        # A late ICMP error (e.g. port unreachable) for the previous datagram surfaces on
        # the next syscall and is consumed by it, so this datagram may still go out.
        sock.send(data)


def _await_final(sock: socket.socket, call_id: str, deadline: float) -> tuple[int, str] | None:
    """Wait until deadline for a final response to our Call-ID/CSeq; None on silence."""
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            packet = sock.recv(65535)
        except TimeoutError:
            return None
        except OSError:
            continue  # ICMP port unreachable etc. (reported once): wait out this try anyway
        parsed = _parse_response(packet)
        if parsed is None:
            continue
        status, reason, headers = parsed
        cseq = headers.get("cseq", "").split()
        if headers.get("call-id", headers.get("i")) != call_id or cseq != ["1", "NOTIFY"] or status < 200:
            continue  # not ours, or only a 1xx: keep waiting
        return status, reason
    return None


class NotifyDispatcher:
    """Sends NOTIFYs in background threads so the HTTP answer is never delayed."""

    def __init__(
        self,
        max_workers: int = 4,
        on_outcome: Callable[[NotifyRequest, NotifyOutcome], None] | None = None,
        sender: Callable[..., NotifyOutcome] = send_notify,
        via_pbx: Callable[[NotifyRequest], NotifyOutcome] | None = None,
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hotdesk-notify")
        self._on_outcome = on_outcome
        self._sender = sender
        self._via_pbx = via_pbx  # a request with `pbx` goes through it first (hotdesk.notifications.notify_through_pbx)

    def submit(self, request: NotifyRequest) -> Future[NotifyOutcome]:
        return self._executor.submit(self._run, request)

    def _run(self, request: NotifyRequest) -> NotifyOutcome:
        try:
            if request.pbx is not None and self._via_pbx is not None:
                outcome = self._via_pbx(request)
                if not outcome.delivered and request.pbx.fallback:
                    direct = self._send_direct(request)
                    outcome = NotifyOutcome(
                        direct.delivered,
                        direct.status,
                        outcome.attempts + direct.attempts,
                        f"{outcome.detail}; sent by hotdesk instead: {direct.detail}",
                    )
            else:
                outcome = self._send_direct(request)
        except Exception as exc:  # bad input or a broken sender: report it like any failure
            log.exception("NOTIFY %r:%r event=%r failed", request.host, request.port, request.event)
            outcome = NotifyOutcome(False, None, 0, f"error: {exc}")
        if self._on_outcome is not None:
            try:
                self._on_outcome(request, outcome)
            except Exception:
                log.exception("on_outcome callback failed for NOTIFY to %r:%r", request.host, request.port)
        return outcome

    def _send_direct(self, request: NotifyRequest) -> NotifyOutcome:
        # Only a request with a body passes one, so simple senders (tests, wrappers) keep working.
        extra = {"body": request.body, "content_type": request.content_type} if request.body else {}
        return self._sender(request.host, request.port, request.event, user=request.user, **extra)

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)
