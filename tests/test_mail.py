"""A new account with an e-mail address gets its account mail through a real SMTP server (aiosmtpd
on loopback): within seconds, sent by the app's own sender thread, however the account was made
(CLI, API, console). The QR code in it, read back from the inline image, signs Linphone in once;
the mail carries no SIP secret, PIN or password. A server that is down costs retries with backoff,
recorded in the history, never the account; STARTTLS and SSL verify the server and sign in; two
senders never send one mail twice."""

from __future__ import annotations

import email
import email.policy
import io
import socket
import ssl
import subprocess
import threading
import time
from datetime import timedelta

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from PIL import Image
from sqlalchemy import select, update

from hotdesk.admin import accounts
from hotdesk.mail import queue
from hotdesk.mail.sender import MailSender
from hotdesk.models import Event, EventKind, QueuedMail, SignInLink, Tenant, User, utcnow
from hotdesk.softphone.links import LINK_PATH
from tests import tools
from tests.live_servers import Gunicorn
from tests.test_console import Console, _push_request_context, admin  # noqa: F401 (fixtures)
from tests.test_softphone import LINPHONE, entries

SECRET = "Str0ng-Secret-1001"
PIN = "73915"
BASE = "https://hotdesk.example.com"
SMTP_USER, SMTP_PASSWORD = "relay-user", "smtp-Pa55word-x9"


class Inbox:
    """What an SMTP server received, as parsed messages."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.arrived:
            self.raw.append(envelope.original_content or envelope.content)
            self.messages.append(email.message_from_bytes(self.raw[-1], policy=email.policy.default))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, seconds: float = 20.0) -> list[email.message.EmailMessage]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.messages) >= count, seconds), f"{len(self.messages)} mail(s)"
            return list(self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox():
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    received.port = controller.port
    yield received
    controller.stop()


@pytest.fixture
def smtp(run, inbox):
    """The default tenant mails through `inbox` (plain SMTP on loopback)."""
    for name, value in [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", inbox.port),
        ("smtp_security", "none"),
        ("smtp_from", "Hotdesk <hotdesk@example.com>"),
        ("phone_base_url", BASE),
        ("external_address", "pbx.example.com"),
    ]:
        run("settings", "set", name, value)
    return inbox


@pytest.fixture
def sender(app):
    """The app's own sender thread, as `make run` starts it in each worker."""
    mail = app.extensions["hotdesk"].mail
    mail.interval = 0.2
    mail.start()
    yield mail
    mail.stop()


def add_alice(run, *more) -> str:
    """Alice's extension and account, by the CLI; the generated account password it printed."""
    output = run(
        "extensions", "add", "1001", "--name", "Alice Martin", "--secret", SECRET, "--pin", PIN,
        "--email", "alice@example.org", "--username", "alice", *more,
    )  # fmt: skip
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("user password: "))


def qr_url_of(message: email.message.EmailMessage) -> str:
    """The URL in the QR code of the mail's inline image (the one the HTML names by Content-ID)."""
    html = message.get_body(preferencelist=("html",)).get_content()
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert image.get_content_disposition() == "inline"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.get_content())))
    return code.text


def assert_no_secret(raw: bytes, *secrets: str) -> None:
    decoded = email.message_from_bytes(raw, policy=email.policy.default)
    texts = [raw.decode(errors="replace")] + [
        part.get_content() for part in decoded.walk() if part.get_content_maintype() == "text"
    ]
    for secret in secrets:
        assert all(secret not in text for text in texts), secret


def test_an_account_made_by_the_cli_is_mailed_with_a_qr_code_that_signs_linphone_in_once(
    run, smtp, app, sender, session
):
    password = add_alice(run)
    [message] = smtp.wait_for(1)

    assert message["To"] == "alice@example.org" and message["From"] == "Hotdesk <hotdesk@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    for fact in ("Alice Martin", "Extension: 1001", "Login: alice", f"{BASE}/portal/", "SIP domain: pbx.example.com"):
        assert fact in text, fact
    assert "Server: pbx.example.com:5060" in text and "Transport: UDP" in text
    url = qr_url_of(message)
    assert url.startswith(BASE + LINK_PATH) and url in text
    assert f'href="{url}"' in message.get_body(preferencelist=("html",)).get_content()
    assert_no_secret(smtp.raw[0], SECRET, PIN, password)

    client = app.test_client()
    config = entries(client.get(url.removeprefix(BASE), headers=LINPHONE).data)
    assert config["auth_info_0"]["passwd"] == SECRET and config["auth_info_0"]["username"] == "1001"
    assert client.get(url.removeprefix(BASE), headers=LINPHONE).status_code == 404  # once

    [sent] = session.scalars(select(Event).where(Event.kind == EventKind.MAIL_SENT.value))
    assert sent.extension == "1001" and sent.tenant_id == 1 and "alice@example.org" in sent.detail
    assert url.rsplit("/", 1)[1] not in sent.detail
    link = session.scalar(select(SignInLink))
    assert link.kind == "mail" and link.expires_at - link.created_at == timedelta(hours=72)
    assert "sent" in run("mail", "list")


def test_accounts_made_by_the_api_and_the_console_are_mailed_too(run, smtp, client, sender, session, admin):
    token = accounts.create_token(session, "sync", "test", scopes=accounts.SCOPES).secret
    session.commit()
    made = client.post(
        "/api/v1/extensions",
        json={"number": "1002", "name": "Bob", "secret": SECRET, "email": "bob@example.org"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201
    console = Console(client)
    assert console.sign_in().status_code == 302
    form = console.page("/admin/extensions/new")
    fields = {"number": "1003", "name": "Carol", "secret": SECRET, "email": "carol@example.org"}
    answer = console.post("/admin/extensions/new", fields, token_from=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)[-800:]

    messages = smtp.wait_for(2)
    assert sorted(m["To"] for m in messages) == ["bob@example.org", "carol@example.org"]
    for message in messages:
        assert qr_url_of(message).startswith(BASE + LINK_PATH)


def test_without_smtp_host_or_an_address_nothing_is_queued(run, app, session, inbox):
    run("extensions", "add", "1001", "--name", "Alice", "--secret", SECRET, "--email", "alice@example.org")
    run("settings", "set", "smtp_host", "127.0.0.1")
    run("extensions", "add", "1002", "--name", "Bob", "--secret", SECRET)
    assert session.scalar(select(QueuedMail.id)) is None


def test_the_links_from_the_web_request_serve_when_phone_base_url_is_unset(run, inbox, app, sender, session, admin):
    run("settings", "set", "smtp_host", "127.0.0.1")
    run("settings", "set", "smtp_port", inbox.port)
    run("settings", "set", "smtp_security", "none")
    token = accounts.create_token(session, "sync", "test", scopes=accounts.SCOPES).secret
    session.commit()
    made = app.test_client().post(
        "/api/v1/extensions",
        json={"number": "1002", "name": "Bob", "secret": SECRET, "email": "bob@example.org"},
        headers={"Authorization": f"Bearer {token}"},
        base_url="http://10.0.0.5:8080",
    )
    assert made.status_code == 201
    [message] = inbox.wait_for(1)
    assert qr_url_of(message).startswith("http://10.0.0.5:8080" + LINK_PATH)
    assert message["From"] == "hotdesk@127.0.0.1"


def test_a_server_that_is_down_costs_retries_with_backoff_never_the_account(run, smtp, app, session):
    run("settings", "set", "smtp_port", free_port())  # nobody listens
    add_alice(run)
    running = app.extensions["hotdesk"]
    assert session.scalar(select(User.username)) == "alice"

    done = running.mail.send_due()
    assert (done.sent, done.failed) == (0, 1)
    mail = session.scalar(select(QueuedMail))
    assert mail.attempts == 1 and mail.next_attempt_at - utcnow() > timedelta(seconds=50)
    assert "connection refused" in mail.last_error
    [failure] = session.scalars(select(Event).where(Event.kind == EventKind.MAIL_FAILED.value))
    assert "attempt 1 of 10 failed" in failure.detail and "alice@example.org" in failure.detail
    assert failure.extension == "1001"
    assert running.mail.send_due().failed == 0  # not due yet

    # The second failure waits twice as long; the link the failed mail held works for nobody.
    session.execute(update(QueuedMail).values(next_attempt_at=utcnow()))
    session.commit()
    assert running.mail.send_due().failed == 1
    session.expire_all()
    assert mail.attempts == 2 and mail.next_attempt_at - utcnow() > timedelta(seconds=110)
    assert all(link.revoked_at is not None for link in session.scalars(select(SignInLink)))

    # The last attempt gives it up; an admin retries it once the server is back.
    session.execute(update(QueuedMail).values(next_attempt_at=utcnow(), attempts=queue.ATTEMPTS - 1))
    session.commit()
    running.mail.send_due()
    session.expire_all()
    assert mail.failed_at is not None and mail.next_attempt_at is None
    assert f"{mail.id}\tfailed\taccount\talice@example.org\t1001" in run("mail", "list")
    assert "given up after 10 attempt(s)" in session.scalars(select(Event.detail).order_by(Event.id.desc())).first()

    run("settings", "set", "smtp_port", smtp.port)
    assert run("mail", "retry", mail.id).strip() == f"mail {mail.id} to alice@example.org queued again"
    assert running.mail.send_due().sent == 1
    [message] = smtp.wait_for(1)
    assert qr_url_of(message).startswith(BASE + LINK_PATH)
    assert run("mail", "retry", mail.id, code=1).startswith(f"Error: mail {mail.id} was sent at")
    assert run("mail", "retry", 999, code=1).strip() == "Error: no mail 999"


def test_two_senders_never_send_one_mail_twice(run, smtp, app, session, tmp_path):
    csv = "extension,name,secret,email\n" + "".join(
        f"{2000 + i},Person {i},{SECRET},p{i}@example.org\n" for i in range(12)
    )
    path = tmp_path / "people.csv"
    path.write_text(csv)
    run("extensions", "import", path)
    running = app.extensions["hotdesk"]
    senders = [MailSender(running.sessions, running.settings, "test-secret-key") for _ in range(3)]
    threads = [threading.Thread(target=sender.send_due) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = smtp.wait_for(12)
    time.sleep(0.5)
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"p{i}@example.org" for i in range(12))
    assert len(session.scalars(select(Event).where(Event.kind == EventKind.MAIL_SENT.value)).all()) == 12
    assert len({qr_url_of(m) for m in messages}) == 12


def test_the_mail_does_not_kill_the_qr_on_a_screen_but_a_refresh_kills_both(run, smtp, app, session):
    add_alice(run)
    shown = run("users", "qr", "alice").strip()
    app.extensions["hotdesk"].mail.send_due()
    mailed = qr_url_of(smtp.wait_for(1)[0])
    assert run("users", "qr", "alice").strip() == shown  # the screen's QR is not the mail's
    client = app.test_client()
    assert client.get(shown.removeprefix(BASE), headers=LINPHONE).status_code == 200
    refreshed = run("users", "qr", "alice", "--refresh").strip()
    assert client.get(mailed.removeprefix(BASE), headers=LINPHONE).status_code == 404
    assert client.get(refreshed.removeprefix(BASE), headers=LINPHONE).status_code == 200


def test_send_test_says_how_it_went(run, smtp, session):
    assert run("mail", "send-test", "ops@example.org").strip().startswith("test mail ")
    [message] = smtp.wait_for(1)
    assert message["To"] == "ops@example.org" and "test mail" in message["Subject"]
    run("settings", "set", "smtp_port", free_port())
    output = run("mail", "send-test", "ops@example.org", code=1)
    assert "not sent: 127.0.0.1:" in output and "connection refused" in output
    assert run("mail", "send-test", "not an address", code=1).startswith("Error: 'not an address' is not an e-mail")
    run("settings", "set", "smtp_host", "")
    assert "smtp_host is not set" in run("mail", "send-test", "ops@example.org", code=1)


# TLS: a certificate the test makes (openssl), trusted through smtp_ca_file.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if tools.which("openssl") is None:
        tools.missing("openssl")
    work = tmp_path_factory.mktemp("smtp-tls")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _authenticator(server, session, envelope, mechanism, auth_data):
    def text(value):
        return value.decode() if isinstance(value, bytes) else value

    ok = isinstance(auth_data, LoginPassword) and (text(auth_data.login), text(auth_data.password)) == (
        SMTP_USER,
        SMTP_PASSWORD,
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture(params=["starttls", "ssl"])
def tls_inbox(request, certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received = Inbox()
    # PLAIN only: one refused AUTH, one answer (smtplib would try LOGIN next).
    common = {
        "handler": received,
        "hostname": "127.0.0.1",
        "port": free_port(),
        "authenticator": _authenticator,
        "auth_exclude_mechanism": ["LOGIN"],
    }
    if request.param == "starttls":
        controller = Controller(**common, tls_context=context, require_starttls=True, auth_required=True)
    else:
        controller = Controller(**common, ssl_context=context, auth_required=True, auth_require_tls=False)
    controller.start()
    received.port, received.security = controller.port, request.param
    yield received
    controller.stop()


# aiosmtpd cannot tell that an SMTPS connection is encrypted: AUTH over it is, though.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_and_ssl_verify_the_server_and_sign_in(run, tls_inbox, certificate, app, session):
    for name, value in [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", tls_inbox.port),
        ("smtp_security", tls_inbox.security),
        ("smtp_username", SMTP_USER),
        ("smtp_password", SMTP_PASSWORD),
        ("phone_base_url", BASE),
    ]:
        run("settings", "set", name, value)
    run("settings", "set", "smtp_ca_file", certificate[0])
    run("settings", "set", "smtp_password", "wrong-" + SMTP_PASSWORD)
    add_alice(run)
    sender = app.extensions["hotdesk"].mail

    assert sender.send_due().failed == 1
    mail = session.scalar(select(QueuedMail))
    assert "the server answered 535" in mail.last_error

    run("settings", "set", "smtp_password", SMTP_PASSWORD)
    session.execute(update(QueuedMail).values(next_attempt_at=utcnow()))
    session.commit()
    assert sender.send_due().sent == 1
    [message] = tls_inbox.wait_for(1)
    assert message["To"] == "alice@example.org"

    # Without the CA that signed it, the server is not trusted: nothing is sent, the reason is recorded.
    run("settings", "set", "smtp_ca_file", "")
    run("extensions", "add", "1002", "--name", "Bob", "--secret", SECRET, "--email", "bob@example.org")
    assert sender.send_due().failed == 1
    assert "certificate is not trusted" in session.scalar(select(QueuedMail.last_error).where(QueuedMail.id != mail.id))
    for detail in session.scalars(select(Event.detail)):
        assert SMTP_PASSWORD not in (detail or "")


def test_credentials_never_cross_plain_smtp(run, smtp, app, session):
    run("settings", "set", "smtp_username", SMTP_USER)
    run("settings", "set", "smtp_password", SMTP_PASSWORD)
    add_alice(run)
    assert app.extensions["hotdesk"].mail.send_due().failed == 1
    assert "unencrypted" in session.scalar(select(QueuedMail.last_error))
    assert smtp.messages == []


def test_a_tenant_manager_sets_the_tenants_smtp_but_not_the_ca_file(run, app, session):
    run("tenants", "add", "acme", "--sip-domain", "acme.example.com")
    acme = session.scalar(select(Tenant.id).where(Tenant.name == "acme"))
    token = accounts.create_token(session, "acme-sync", "test", scopes=accounts.SCOPES, tenant_id=acme).secret
    session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.put("/api/v1/settings/smtp_host", json={"value": "mail.acme.example.com"}, headers=headers).status_code
        == 200
    )
    refused = client.put("/api/v1/settings/smtp_ca_file", json={"value": "/etc/shadow"}, headers=headers)
    assert refused.status_code == 403 and "system admin" in refused.get_json()["error"]
    assert run("settings", "get", "smtp_host", "--tenant", "acme").strip() == "mail.acme.example.com"
    assert run("settings", "get", "smtp_host").strip() == ""


@pytest.mark.slow
def test_make_runs_gunicorn_sends_the_mail_once_and_a_restart_loses_none(run, smtp, database_url, tmp_path):
    """As `make run` serves: gunicorn with deploy/gunicorn.conf.py, two workers, nothing else."""
    env = {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_SECRET_KEY": "test-secret-key",
        "HOTDESK_INSTANCE_PATH": str(tmp_path / "served"),
    }
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=2)
    try:
        server.wait_for_workers()
        add_alice(run)
        [message] = smtp.wait_for(1)
        assert qr_url_of(message).startswith(BASE + LINK_PATH)
        time.sleep(3)  # the other worker's rounds: nothing more
        assert len(smtp.messages) == 1
    finally:
        server.stop()
    run("extensions", "add", "1002", "--name", "Bob", "--secret", SECRET, "--email", "bob@example.org")
    time.sleep(1)
    assert len(smtp.messages) == 1  # queued while nothing runs
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=2)
    try:
        assert smtp.wait_for(2)[1]["To"] == "bob@example.org"
    finally:
        server.stop()


def test_the_api_and_the_console_list_retry_and_test(run, smtp, client, session, admin):
    run("settings", "set", "smtp_port", free_port())  # down
    add_alice(run)
    running = client.application.extensions["hotdesk"]
    running.mail.send_due()
    token = accounts.create_token(session, "sync", "test", scopes=accounts.SCOPES).secret
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    [listed] = client.get("/api/v1/mail", headers=headers).get_json()["items"]
    assert listed["state"] == "queued" and listed["attempts"] == 1 and listed["extension"] == "1001"
    assert "connection refused" in listed["last_error"] and listed["recipient"] == "alice@example.org"

    run("settings", "set", "smtp_port", smtp.port)
    retried = client.post(f"/api/v1/mail/{listed['id']}/retry", headers=headers)
    assert retried.status_code == 200 and retried.get_json()["attempts"] == 0
    assert running.mail.send_due().sent == 1
    assert client.post(f"/api/v1/mail/{listed['id']}/retry", headers=headers).status_code == 409
    assert client.post("/api/v1/mail/77/retry", headers=headers).status_code == 404
    queued = client.post("/api/v1/mail/test", json={"recipient": "ops@example.org"}, headers=headers)
    assert queued.status_code == 202 and queued.get_json()["kind"] == "test"
    for bad in ("nobody", "a@b.c\r\nBcc: x@evil.example", "x" * 60 + "@" + "d" * 250 + ".org", "a@b@c.org"):
        refused = client.post("/api/v1/mail/test", json={"recipient": bad}, headers=headers)
        assert refused.status_code == 422 and "is not an e-mail address" in refused.get_json()["error"], bad

    console = Console(client)
    assert console.sign_in().status_code == 302
    page = console.page("/admin/mail")
    cells = [" ".join(td.text_content().split()) for td in page.xpath("//table[@id='mail-list']/tbody/tr[1]/td")]
    assert cells[1:5] == ["queued", "test", "ops@example.org", ""]
    answer = console.post("/admin/mail/test", {"recipient": "ops2@example.org"}, token_from=page)
    assert answer.status_code == 302
    assert running.mail.send_due().sent == 2
    assert sorted(m["To"] for m in smtp.wait_for(3)[1:]) == ["ops2@example.org", "ops@example.org"]
    page = console.page("/admin/mail")
    assert "Send again" not in page.text_content()  # all sent


def test_a_tenants_own_server_never_gets_the_installations_smtp_password(run, inbox, app, session):
    """acme's manager points acme's smtp_host at a server of theirs: the operator's credentials,
    which acme inherits, must not sign in there."""
    run("settings", "set", "smtp_username", SMTP_USER)
    run("settings", "set", "smtp_password", SMTP_PASSWORD)
    run("settings", "set", "external_address", "pbx.example.com")
    run("tenants", "add", "acme", "--sip-domain", "acme.example.com")
    for name, value in [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", inbox.port),
        ("smtp_security", "none"),
        ("phone_base_url", BASE),
    ]:
        run("settings", "set", name, value, "--tenant", "acme")
    run("extensions", "add", "1001", "--name", "Ann", "--secret", SECRET, "--email", "ann@acme.example.com",
        "--tenant", "acme")  # fmt: skip
    assert app.extensions["hotdesk"].mail.send_due().sent == 1  # without signing in (else: refused over none)
    assert inbox.wait_for(1)[0]["To"] == "ann@acme.example.com"
    assert_no_secret(inbox.raw[0], SMTP_PASSWORD)
    [sent] = session.scalars(select(Event).where(Event.kind == EventKind.MAIL_SENT.value))
    assert sent.tenant_id == session.scalar(select(Tenant.id).where(Tenant.name == "acme"))


def test_sent_and_failed_mails_are_counted_for_metrics(run, smtp, app, session):
    from hotdesk import metrics

    sent, failed = (metrics.MAILS.labels(outcome)._value.get() for outcome in ("sent", "failed"))
    run("settings", "set", "smtp_port", free_port())
    add_alice(run)
    app.extensions["hotdesk"].mail.send_due()
    run("settings", "set", "smtp_port", smtp.port)
    session.execute(update(QueuedMail).values(next_attempt_at=utcnow()))
    session.commit()
    app.extensions["hotdesk"].mail.send_due()
    assert metrics.MAILS.labels("sent")._value.get() == sent + 1
    assert metrics.MAILS.labels("failed")._value.get() == failed + 1
