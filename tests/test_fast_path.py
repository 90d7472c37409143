"""The nginx fast path: a phone's files pre-rendered under its own secret path, served by nginx,
and withdrawn the moment what they say changes (hotdesk.published).

These tests put a stand-in for deploy/nginx/hotdesk.conf's /fast/ location in front of the Flask
test client; tests/test_deploy.py runs the real nginx."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from hotdesk import create_app, hotdesking
from hotdesk.cli import main
from hotdesk.config import Config
from hotdesk.models import Address, Extension
from tests.conftest import ADMIN_PASSWORD, PROVISIONING, USER_PASSWORD, running_app
from tests.phones import YealinkPhone, parse_cfg

MAC, OTHER_MAC = "001565aabb01", "001565aabb02"
SECRETS = ("alice-SIP-secret-9f3", "bob-SIP-secret-77a", "4321", USER_PASSWORD, ADMIN_PASSWORD)
FAST_URL = re.compile(r"^http://localhost/fast/([0-9a-f]{12})/([0-9a-f]{32})/$")


@dataclass(frozen=True)
class StaticResponse:
    status_code: int
    data: bytes
    content_type: str = "text/plain"


@dataclass
class NginxStandIn:
    """/fast/<path> as the shipped nginx site serves it: the published file if there is one, else
    hotdesk's /provision/fast/<path>. Everything else goes to hotdesk."""

    client: object
    directory: Path
    from_disk: list[str] = field(default_factory=list)

    def get(self, url, **kwargs):
        path = urlsplit(url).path
        if path.startswith("/fast/"):
            published = self.directory / "current" / path.removeprefix("/fast/")
            try:  # open-or-fall-back in one step, as nginx does: the file may go at any moment
                body = published.read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                url = f"/provision{path}"
            else:
                self.from_disk.append(path)
                return StaticResponse(200, body)
        return self.client.get(url, **kwargs)


@pytest.fixture
def app(publishing_app):
    return publishing_app


@pytest.fixture
def nginx(client, published):
    return NginxStandIn(client, published)


@pytest.fixture
def phone(nginx, extensions):
    return YealinkPhone(nginx, MAC)


@pytest.fixture
def cli(database_url, tmp_path, published, monkeypatch):
    """The `hotdesk` command as an admin runs it on the same host (same hotdesk.env)."""
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HOTDESK_PUBLISH_DIR", str(published))

    def run(*args):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return run


def on_fast_path(phone) -> YealinkPhone:
    """A phone that has its own credentials and has fetched its files once from its fast path."""
    phone.boot()  # global credentials: issued its own and its fast path
    phone.boot()  # from the fast path: published
    return phone


def files_of(published: Path, mac: str = MAC) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (published / "current" / mac).glob("*/*")}


def fast_dir(phone) -> Path:
    mac, sig = FAST_URL.match(phone.server_url).groups()
    return Path(mac) / sig


def secrets_in(body: bytes) -> list[str]:
    # A secret standing on its own: a 4-digit PIN is found by chance inside random tokens and
    # signatures (one run in a few hundred), which are letters and digits around it.
    return [
        s for s in SECRETS if re.search(rb"(?<![A-Za-z0-9_-])" + re.escape(s.encode()) + rb"(?![A-Za-z0-9_-])", body)
    ]


def log_in(phone, extension="1001", password="4321"):
    answer = phone.submit(phone.press("External"), extension=extension, password=password)
    assert answer.findtext("Title") == "Logged in"


def log_out(phone):
    answer = phone.choose(phone.press("Logout"), "Logout")
    assert answer.findtext("Title") == "Logged out"


def test_phone_learns_its_fast_path_and_nginx_serves_its_files_from_then_on(phone, nginx, published):
    first = phone.boot()
    assert FAST_URL.match(first["static.auto_provision.server.url"]), first
    assert files_of(published) == {}  # the file that hands out the credentials is never published

    second = phone.boot()
    assert nginx.from_disk == []
    assert files_of(published) == phone.files
    assert (published / "current" / fast_dir(phone) / f"{MAC}.cfg").is_file()
    assert second["account.1.enable"] == "0" and not secrets_in(phone.files[f"{MAC}.cfg"])

    assert phone.boot() == second
    assert len(nginx.from_disk) == 2


def test_login_withdraws_the_guest_file_before_answering_and_the_next_fetch_publishes_the_users(
    phone, published, notifier
):
    on_fast_path(phone)

    log_in(phone)
    assert files_of(published) == {}, "a stale guest file would outlive the login"
    assert len(notifier.sent) == 1

    assert phone.boot()["account.1.password"] == "alice-SIP-secret-9f3"
    assert secrets_in(files_of(published)[f"{MAC}.cfg"]) == ["alice-SIP-secret-9f3"]
    assert phone.boot()["account.1.user_name"] == "1001"


def test_logout_withdraws_the_users_file_and_the_guest_file_is_served(phone, published):
    on_fast_path(phone)
    log_in(phone)
    phone.boot()

    log_out(phone)
    assert files_of(published) == {}
    config = phone.boot()
    assert config["account.1.enable"] == "0"
    assert not secrets_in(files_of(published)[f"{MAC}.cfg"])
    assert list(phone.keys()) == ["External", "Internal"]


def test_a_wrong_path_or_another_phones_file_is_not_found_and_publishes_nothing(
    phone, nginx, client, published, extensions
):
    on_fast_path(phone)
    other = on_fast_path(YealinkPhone(nginx, OTHER_MAC))
    log_in(other)
    before = sorted(published.rglob("*"))
    mac, sig = FAST_URL.match(phone.server_url).groups()

    for path in [
        f"/fast/{mac}/{'0' * 32}/{MAC}.cfg",  # a guessed signature
        f"/fast/{mac}/{sig}/{OTHER_MAC}.cfg",  # my path, the other phone's file
        f"/fast/{OTHER_MAC}/{sig}/{OTHER_MAC}.cfg",  # my signature on the other phone's path
        f"/fast/{mac.upper()}/{sig}/{MAC}.cfg",
        f"/fast/{mac}/{sig}/../{MAC}.cfg",
    ]:
        response = nginx.get(path, headers={"User-Agent": other.user_agent})
        assert response.status_code in (401, 404), path  # 401: a wrong path asks for credentials
        assert not secrets_in(response.data)
    assert sorted(published.rglob("*")) == before


def test_a_phone_whose_path_went_stale_finds_its_way_back_with_its_credentials(
    phone, database_url, notifier, tmp_path, published, cli
):
    # A new secret key (or hosts that disagree on it) changes every path; phones remember theirs.
    on_fast_path(phone)
    log_in(phone)
    old_url = phone.server_url
    config = Config(
        database_url=database_url,
        secret_key="a-new-secret-key",
        trusted_proxies=0,
        instance_path=tmp_path,
        publish_dir=published,
    )
    rekeyed = create_app(config, notifier=notifier)
    phone.client = NginxStandIn(rekeyed.test_client(), published)
    cli("published", "retire")  # the copies under its old path go (as with any change of the phone's)

    assert phone.boot()["account.1.password"] == "alice-SIP-secret-9f3"  # its old path, its own credentials
    assert phone.server_url != old_url and FAST_URL.match(phone.server_url)
    assert phone.boot()["account.1.password"] == "alice-SIP-secret-9f3"  # and from the new path

    stranger = rekeyed.test_client().get(
        "/provision" + urlsplit(old_url).path + f"{MAC}.cfg", headers={"User-Agent": phone.user_agent}
    )
    assert stranger.status_code == 401 and not secrets_in(stranger.data)
    rekeyed.extensions["hotdesk"].engine.dispose()


def test_a_worker_starting_deletes_no_copy_another_serves(phone, nginx, published, database_url, notifier, tmp_path):
    on_fast_path(phone)
    served = files_of(published)
    assert served

    started = running_app(database_url, notifier, tmp_path, publish_dir=published)
    next(started)  # another worker (or host sharing the directory) comes up
    assert files_of(published) == served
    from_disk = len(nginx.from_disk)
    phone.boot()
    assert len(nginx.from_disk) > from_disk  # still answered from the copies, by nginx
    next(started, None)


def test_published_retire_and_init_db_delete_every_copy(phone, nginx, published, cli):
    phones = [on_fast_path(phone), on_fast_path(YealinkPhone(nginx, OTHER_MAC))]
    assert "published copies deleted" in cli("published", "retire").output
    assert not (published / "current").exists() and not (published / "readers").exists()

    for each in phones:
        each.boot()  # rendered and published again
    assert files_of(published) and files_of(published, OTHER_MAC)
    assert "published copies deleted" in cli("init-db").output  # before a new version starts
    assert not (published / "current").exists()


def test_published_retire_without_a_publish_dir_says_so(cli, monkeypatch):
    monkeypatch.delenv("HOTDESK_PUBLISH_DIR")
    result = CliRunner().invoke(main, ["published", "retire"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: HOTDESK_PUBLISH_DIR is not set: nothing is published"


def test_setting_template_and_pin_changes_made_elsewhere_retire_every_file(phone, nginx, published, cli, tmp_path):
    phones = [on_fast_path(phone), on_fast_path(YealinkPhone(nginx, OTHER_MAC))]
    template = tmp_path / "plain.cfg"
    template.write_text("#!version:1.0.0.1\naccount.1.label = {{ line.number if line else 'Guest' }}\n")

    for change in (
        ["settings", "set", "yealink_notify_reboot", "false"],
        ["templates", "import", template, "--brand", "yealink", "--name", "plain"],
        ["mappings", "pin", "1001", "yealink/plain"],
    ):
        for each in phones:
            each.boot()
        assert files_of(published) and files_of(published, OTHER_MAC)
        cli(*change)
        assert not (published / "current").exists(), change


def test_credentials_reset_withdraws_the_files_and_the_old_path(phone, published, cli):
    on_fast_path(phone)
    old = phone.server_url

    cli("devices", "reset-credentials", MAC)
    assert files_of(published) == {}
    assert phone.fetch(f"{MAC}.cfg").status_code == 401  # neither its old path nor its old credentials open it

    phone.credentials, phone.server_url = PROVISIONING, "/provision/"  # a factory reset
    on_fast_path(phone)
    assert phone.server_url != old
    assert (published / "current" / fast_dir(phone) / f"{MAC}.cfg").is_file()


def test_changing_or_deleting_the_logged_in_extension_withdraws_the_phones_file(phone, nginx, published, cli, app):
    on_fast_path(phone)
    log_in(phone)
    phone.boot()
    bystander = on_fast_path(YealinkPhone(nginx, OTHER_MAC))

    cli("extensions", "add", "1001", "--name", "Alice Martin", "--secret", "alice-New-secret-2", "--pin", "4321")
    assert files_of(published) == {} and files_of(published, OTHER_MAC), "only the phone the extension is on"
    assert phone.boot()["account.1.password"] == "alice-New-secret-2"

    with app.extensions["hotdesk"].sessions() as session:  # a bulk statement, not an ORM flush
        session.execute(update(Extension).where(Extension.number == "1001").values(name="Alice M."))
        session.commit()
    assert files_of(published) == {}
    assert phone.boot()["account.1.display_name"] == "Alice M."

    with app.extensions["hotdesk"].sessions() as session:
        session.delete(session.scalar(select(Extension).where(Extension.number == "1001")))
        session.commit()  # its mapping goes by ON DELETE CASCADE
    assert files_of(published) == {}
    assert phone.boot()["account.1.enable"] == "0"
    assert files_of(published, OTHER_MAC) == bystander.files


def test_timed_and_admin_logouts_from_the_command_line_withdraw_the_file(phone, published, cli):
    on_fast_path(phone)
    log_in(phone)
    phone.boot()

    cli("logout", MAC)
    assert files_of(published) == {}
    assert not secrets_in(phone.fetch(f"{MAC}.cfg").data)


def test_no_file_published_for_a_logged_out_phone_holds_a_secret(nginx, extensions, published):
    phones = [on_fast_path(YealinkPhone(nginx, f"001565aabb1{i}")) for i in range(3)]
    for phone, extension, password in zip(
        phones, ("1001", "1002", "1001"), ("4321", USER_PASSWORD, ADMIN_PASSWORD), strict=True
    ):
        log_in(phone, extension, password)
        phone.boot()
    log_out(phones[1])
    phones[1].boot()  # the last login of 1001 displaced phones[0] (auto_logout): it is a guest too
    phones[0].boot()

    logged_out = [p for p in phones if p.line() is None]
    assert [p.mac for p in logged_out] == [phones[0].mac, phones[1].mac]
    for phone in logged_out:
        for name, body in files_of(published, phone.mac).items():
            assert not secrets_in(body), (phone.mac, name)
    assert secrets_in(files_of(published, phones[2].mac)[f"{phones[2].mac}.cfg"]) == ["alice-SIP-secret-9f3"]


def test_racing_logins_logouts_and_fetches_leave_only_current_files(app, extensions, session, published, monkeypatch):
    """Whatever the interleaving, a published file is what /provision/ renders once all is done.

    Each round withdraws the phones' files (a login or logout), lets fetches go to hotdesk for
    them, and logs in or out again while those fetches are between reading the device and
    publishing, slowed as on a busy worker."""
    hotdesk = app.extensions["hotdesk"]
    record_device, busy = hotdesking.record_device, threading.local()

    def slowly(*args, **kwargs):
        if getattr(busy, "worker", False):
            time.sleep(0.01)
        return record_device(*args, **kwargs)

    monkeypatch.setattr(hotdesking, "record_device", slowly)
    session.add(Extension(number="1003", name="Carol", secret="carol-SIP-secret", voicemail_pin="4321"))
    session.commit()
    phones = [
        on_fast_path(YealinkPhone(NginxStandIn(app.test_client(), published), f"001565aabb2{i}")) for i in range(3)
    ]
    numbers = dict(zip((phone.mac for phone in phones), ("1001", "1002", "1003"), strict=True))
    failures = []

    def fetch(phone):
        busy.worker = True
        fetcher = YealinkPhone(NginxStandIn(app.test_client(), published), phone.mac, credentials=phone.credentials)
        fetcher.server_url = phone.server_url
        for _ in range(3):
            status = fetcher.fetch(f"{phone.mac}.cfg").status_code
            if status != 200:
                failures.append(status)

    def log_in_or_out_everyone():
        with hotdesk.sessions() as changes:
            for mac, number in numbers.items():
                device = hotdesking.find_device(changes, mac=mac)
                if device.mapping is None:
                    made = hotdesking.login(
                        changes, hotdesk.settings.values(changes), device, number, ADMIN_PASSWORD, Address.EXTERNAL
                    )
                    assert isinstance(made, hotdesking.LoggedIn)
                else:
                    hotdesking.logout(changes, device)

    for _ in range(15):
        log_in_or_out_everyone()
        fetchers = [threading.Thread(target=fetch, args=(phone,)) for phone in phones for _ in range(2)]
        for thread in fetchers:
            thread.start()
        time.sleep(0.005)
        log_in_or_out_everyone()
        for thread in fetchers:
            thread.join()

        assert failures == []
        for phone in phones:
            left = files_of(published, phone.mac)  # read first: /provision/ publishes what it renders
            now = (
                app.test_client()
                .get(f"/provision/{phone.mac}.cfg", headers={"User-Agent": phone.user_agent}, auth=phone.credentials)
                .data
            )
            assert left.get(f"{phone.mac}.cfg") in (None, now), phone.mac
            if parse_cfg(now)["account.1.enable"] == "0":
                assert not any(secrets_in(body) for body in left.values()), phone.mac
