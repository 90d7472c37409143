"""Tests for hotdesk.notify against real UDP peers: sipp as the phone, or a tiny Python UAS."""

from __future__ import annotations

import logging
import re
import socket
import threading

import pytest

from hotdesk import notify
from hotdesk.notify import (
    NotifyDispatcher,
    NotifyOutcome,
    NotifyRequest,
    build_notify,
    send_notify,
)
from tests.sipp import EVENT, free_udp_port, received_requests


def test_sipp_accepts_well_formed_notify(sipp_uas):
    peer = sipp_uas(EVENT)
    outcome = send_notify("127.0.0.1", peer.port, EVENT)

    assert outcome.delivered, peer.diagnostics()
    assert outcome.status == 200
    assert outcome.attempts == 1
    assert outcome.detail == "200 OK"
    assert peer.wait() == 0, peer.diagnostics()

    [request] = received_requests(peer.messages)
    lines = request.replace("\r\n", "\n").split("\n")
    assert lines[0] == f"NOTIFY sip:127.0.0.1:{peer.port} SIP/2.0"
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    assert re.fullmatch(r"SIP/2\.0/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[0-9a-f]+;rport", headers["Via"])
    assert re.fullmatch(r"<sip:hotdesk@127\.0\.0\.1>;tag=[0-9a-f]+", headers["From"])
    assert headers["To"] == f"<sip:127.0.0.1:{peer.port}>"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["Call-ID"])
    assert headers["CSeq"] == "1 NOTIFY"
    assert headers["Event"] == EVENT
    assert headers["Max-Forwards"] == "70"
    assert headers["Subscription-State"] == "terminated"
    assert headers["Content-Length"] == "0"
    assert re.fullmatch(r"<sip:hotdesk@127\.0\.0\.1:\d+>", headers["Contact"])


def test_sipp_scenario_rejects_other_event(sipp_uas):
    # Guards the scenario itself: a wrong Event must make sipp fail.
    peer = sipp_uas("check-sync;reboot=true")
    send_notify("127.0.0.1", peer.port, EVENT)
    assert peer.wait() != 0


# --- a scripted phone in Python ----------------------------------------------------------


def response_to(request: bytes, status: str) -> bytes:
    lines = request.decode().split("\r\n")
    keep = [line for line in lines if line.split(":", 1)[0] in {"Via", "From", "Call-ID", "CSeq"}]
    to = next(line for line in lines if line.startswith("To:"))
    return "\r\n".join([f"SIP/2.0 {status}", *keep, f"{to};tag=phone", "Content-Length: 0", "", ""]).encode()


class FakePhone:
    """A UDP peer; `script(n, request)` returns the datagrams to send back for the n-th request."""

    def __init__(self, script, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received.append(data)
            for reply in self.script(len(self.received), data):
                self.sock.sendto(reply, addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def phone():
    phones = []

    def make(script, host="127.0.0.1"):
        phones.append(FakePhone(script, host))
        return phones[-1]

    yield make
    for p in phones:
        p.close()


def test_retransmits_same_datagram_until_answered(phone):
    peer = phone(lambda n, req: [] if n == 1 else [response_to(req, "200 OK")])
    outcome = send_notify("127.0.0.1", peer.port, EVENT, retry_delays=(0.2, 5.0))

    assert outcome == NotifyOutcome(True, 200, 2, "200 OK")
    assert len(peer.received) == 2
    assert peer.received[0] == peer.received[1]  # same branch/Call-ID: one transaction


def test_ignores_provisional_and_unrelated_responses(phone):
    def script(n, req):
        stray = response_to(req, "200 OK").replace(b"Call-ID: ", b"Call-ID: other")
        return [response_to(req, "100 Trying"), stray, response_to(req, "202 Accepted")]

    peer = phone(script)
    outcome = send_notify("127.0.0.1", peer.port, EVENT, retry_delays=(5.0,))
    assert outcome == NotifyOutcome(True, 202, 1, "202 Accepted")


def test_final_error_response_ends_it(phone):
    peer = phone(lambda n, req: [response_to(req, "489 Bad Event")])
    outcome = send_notify("127.0.0.1", peer.port, EVENT, retry_delays=(5.0,))
    assert outcome == NotifyOutcome(False, 489, 1, "489 Bad Event")


def test_no_listener_gives_up_after_retries():
    outcome = send_notify("127.0.0.1", free_udp_port(), EVENT, retry_delays=(0.05, 0.05))
    assert not outcome.delivered
    assert outcome.status is None
    assert outcome.attempts == 3
    assert outcome.detail == "no answer after 3 attempts"


def test_ipv6_peer(phone):
    try:
        peer = phone(lambda n, req: [response_to(req, "200 OK")], host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    outcome = send_notify("::1", peer.port, EVENT, user="1001", retry_delays=(5.0,))
    assert outcome.delivered
    assert peer.received[0].startswith(f"NOTIFY sip:1001@[::1]:{peer.port} SIP/2.0\r\n".encode())
    assert b"Via: SIP/2.0/UDP [::1]:" in peer.received[0]


def test_resolution_failure_is_an_outcome(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(notify.socket, "getaddrinfo", fail)
    outcome = send_notify("phone.example", 5060, EVENT)
    assert not outcome.delivered and outcome.attempts == 0
    assert outcome.detail.startswith("send failed:")


def test_outcome_is_logged_once(phone, caplog):
    peer = phone(lambda n, req: [response_to(req, "200 OK")])
    with caplog.at_level(logging.INFO, logger="hotdesk.notify"):
        send_notify("127.0.0.1", peer.port, EVENT, user="1001", retry_delays=(5.0,))
    assert [r.getMessage() for r in caplog.records] == [f"NOTIFY 127.0.0.1:{peer.port} event={EVENT}: 200 OK"]


# --- build_notify -------------------------------------------------------------------------

BUILD = {"local_host": "10.0.0.1", "local_port": 40000, "call_id": "cid1", "branch": "z9hG4bKabc", "from_tag": "t1"}


def test_build_notify_exact_request():
    data = build_notify("10.0.0.2", 5060, EVENT, user="1001", cseq=3, **BUILD)
    assert (
        data
        == (
            "NOTIFY sip:1001@10.0.0.2:5060 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.1:40000;branch=z9hG4bKabc;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:hotdesk@10.0.0.1>;tag=t1\r\n"
            "To: <sip:1001@10.0.0.2:5060>\r\n"
            "Call-ID: cid1\r\n"
            "CSeq: 3 NOTIFY\r\n"
            "Contact: <sip:hotdesk@10.0.0.1:40000>\r\n"
            f"Event: {EVENT}\r\n"
            "Subscription-State: terminated\r\n"
            "User-Agent: hotdesk\r\n"
            "Content-Length: 0\r\n"
            "\r\n"
        ).encode()
    )


def test_build_notify_ipv6_and_branch_cookie():
    data = build_notify(
        "2001:db8::5", 5062, "check-sync", **{**BUILD, "local_host": "fe80::1%eth0", "branch": "abc"}
    ).decode()
    assert data.startswith("NOTIFY sip:[2001:db8::5]:5062 SIP/2.0\r\n")
    assert "Via: SIP/2.0/UDP [fe80::1]:40000;branch=z9hG4bKabc;rport\r\n" in data
    assert "To: <sip:[2001:db8::5]:5062>\r\n" in data
    assert "Contact: <sip:hotdesk@[fe80::1]:40000>\r\n" in data


@pytest.mark.parametrize(
    "field, value",
    [
        ("event", "check-sync\r\nX: y"),
        ("event", "check-sync\nX: y"),
        ("event", "check sync"),
        ("event", ""),
        ("host", "10.0.0.2\r\nX: y"),
        ("host", "10.0.0.2 x"),
        ("host", "phone>"),
        ("user", "10 01"),
        ("user", "1001@evil"),
        ("user", "1001>\r\nX: y"),
    ],
)
def test_build_notify_rejects_injection(field, value):
    args = {"host": "10.0.0.2", "event": EVENT, "user": None, field: value}
    with pytest.raises(ValueError, match=f"invalid {field}"):
        build_notify(args["host"], 5060, args["event"], user=args["user"], **BUILD)
    with pytest.raises(ValueError, match=f"invalid {field}"):
        send_notify(args["host"], 5060, args["event"], user=args["user"])


# --- NotifyDispatcher ---------------------------------------------------------------------


def test_dispatcher_submit_does_not_wait_for_the_send():
    release = threading.Event()
    seen = []
    called = threading.Event()

    def slow_sender(host, port, event, *, user=None):
        release.wait(10)
        return NotifyOutcome(True, 200, 1, "200 OK")

    def on_outcome(request, outcome):
        seen.append((request, outcome))
        called.set()

    dispatcher = NotifyDispatcher(on_outcome=on_outcome, sender=slow_sender)
    request = NotifyRequest("10.0.0.2", 5060, EVENT, user="1001", reason="login 1001 on 001565aabbcc")
    try:
        future = dispatcher.submit(request)
        assert not future.done()
        release.set()
        assert future.result(timeout=10) == NotifyOutcome(True, 200, 1, "200 OK")
        assert called.wait(10)
        assert seen == [(request, NotifyOutcome(True, 200, 1, "200 OK"))]
    finally:
        release.set()
        dispatcher.shutdown()


def test_dispatcher_with_real_send(phone):
    peer = phone(lambda n, req: [response_to(req, "200 OK")])
    outcomes = []
    dispatcher = NotifyDispatcher(on_outcome=lambda req, out: outcomes.append(out))
    try:
        future = dispatcher.submit(NotifyRequest("127.0.0.1", peer.port, EVENT, user="1001"))
        assert future.result(timeout=30).delivered
    finally:
        dispatcher.shutdown()
    assert [o.status for o in outcomes] == [200]


def test_dispatcher_survives_failing_callback_and_sender(caplog):
    def broken_callback(request, outcome):
        raise RuntimeError("callback bug")

    def sender(host, port, event, *, user=None):
        if host == "bad":
            raise ValueError("invalid host")
        return NotifyOutcome(False, None, 5, "no answer after 5 attempts")

    dispatcher = NotifyDispatcher(on_outcome=broken_callback, sender=sender)
    try:
        with caplog.at_level(logging.ERROR, logger="hotdesk.notify"):
            ok = dispatcher.submit(NotifyRequest("10.0.0.2", 5060, EVENT)).result(timeout=10)
            bad = dispatcher.submit(NotifyRequest("bad", 5060, EVENT)).result(timeout=10)
    finally:
        dispatcher.shutdown()
    assert ok == NotifyOutcome(False, None, 5, "no answer after 5 attempts")
    assert not bad.delivered and bad.attempts == 0 and "invalid host" in bad.detail
    assert sum("on_outcome callback failed" in r.getMessage() for r in caplog.records) == 2
