"""A real softphone and a real registrar on loopback: Debian's `linphonec` (linphone-cli) and
`kamailio`, for the tests that scan a QR code with Linphone and watch it register.

`Kamailio` accepts a REGISTER only with digest credentials from the users table the test gives
(auth name -> secret; changeable while it runs) and records every REGISTER and its outcome.
`Linphonec` is one app on one phone: its own HOME and rc file whose `[misc] config-uri` is the
URL it was given (what scanning a QR code does); every `start()` fetches that URL as Linphone
does at each start, and `registered_identity()` waits until the app has settled.

What linphonec 5.1 does with the XML it fetches (found by experiment, and in liblinphone's
coreapi/xml2lpc.c): an entry is written only if the app does not have it yet, unless the entry says
overwrite="true"; nothing is ever removed; any answer but 200 with XML leaves the app with what it
had (it keeps registering); redirects are not followed. So `lpconfig()` marks every entry, and an
account is stopped by overwriting reg_sendregister with 0 and the secret with nothing
(`STOP_SECTIONS`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest

from tests import tools

LINPHONEC = tools.which("linphonec")
KAMAILIO = tools.which("kamailio")
KAMCMD = tools.which("kamcmd")
KAMAILIO_MODULES = next(
    (
        path
        for path in (Path("/usr/lib/x86_64-linux-gnu/kamailio/modules"), *Path("/usr/lib").glob("*/kamailio/modules"))
        if path.is_dir()
    ),
    None,
)
SIP_DOMAIN = "sip.example.test"
TLS_HOST = "localhost"  # the registrar's name over TLS: its certificate's
T = TypeVar("T")


def require_linphonec() -> str:
    if LINPHONEC is None:
        tools.missing("linphonec")
    return LINPHONEC


def require_kamailio() -> str:
    if KAMAILIO is None or KAMCMD is None:
        tools.missing("kamailio")
    return KAMAILIO


def wait_until(condition: Callable[[], T], timeout: float, what: Callable[[], str]) -> T:
    """condition()'s first truthy answer, polled until `timeout`; else the test fails saying `what`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s waiting: {what()}")
        time.sleep(0.05)


def free_udp_and_tcp_port() -> int:
    """A loopback port free for both UDP and TCP (kamailio listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


# --- kamailio -------------------------------------------------------------------------------

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
{tls_listen}mpath="{modules}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "htable.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "corex.so"
modparam("htable", "htable", "users=>size=8;")
modparam("ctl", "binrpc", "unix:{control}")
modparam("usrloc", "db_mode", 0)
modparam("usrloc", "use_domain", 1)
{tls_modules}
request_route {{
    if (!is_method("REGISTER")) {{
        sl_send_reply("405", "Only REGISTER here");
        exit;
    }}
    if (!is_present_hf("Authorization")) {{
        www_challenge("{realm}", "0");
        exit;
    }}
    if ($sht(users=>$au) == $null) {{
        xlog("L_NOTICE", "HOTDESK-REGISTER result=unknown auth=$au aor=$tu proto=$pr\\n");
        sl_send_reply("403", "Unknown auth name");
        exit;
    }}
    if (!pv_www_authenticate("{realm}", "$sht(users=>$au)", "0")) {{
        if ($rc == -2) {{
            xlog("L_NOTICE", "HOTDESK-REGISTER result=refused auth=$au aor=$tu proto=$pr\\n");
            sl_send_reply("403", "Wrong password");
            exit;
        }}
        www_challenge("{realm}", "0");
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{
        sl_reply_error();
        exit;
    }}
    xlog("L_NOTICE", "HOTDESK-REGISTER result=ok auth=$au aor=$tu proto=$pr expires=$hdr(Expires)\\n");
}}
"""
_REGISTER_LINE = re.compile(r"HOTDESK-REGISTER result=(\S+) auth=(\S*) aor=(\S+) proto=(\S+)(?: expires=(\S*))?")


@dataclass(frozen=True)
class Register:
    """One REGISTER that reached the registrar with credentials, as it answered it."""

    result: str  # ok | refused (wrong secret) | unknown (no such auth name)
    auth_name: str
    aor: str  # sip:alice@sip.example.test
    transport: str  # udp | tcp
    expires: str  # the Expires header ("0" = unregister), empty if none


class Kamailio:
    """kamailio on 127.0.0.1 (UDP and TCP on one port), digest realm `realm` (default: the To domain)."""

    def __init__(self, directory: Path, users: dict[str, str], realm: str | None = None, *, tls: bool = False):
        require_kamailio()
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = free_udp_and_tcp_port()
        self.control = directory / "ctl.sock"
        self.log_path = directory / "kamailio.log"
        self.tls_port = 0
        self.certificate = directory / "cert.pem"
        tls_listen = tls_modules = ""
        if tls:
            self.tls_port = free_udp_and_tcp_port()
            tls_listen, tls_modules = self._tls()
        cfg = directory / "kamailio.cfg"
        cfg.write_text(
            KAMAILIO_CFG.format(
                port=self.port,
                modules=KAMAILIO_MODULES,
                control=self.control,
                realm=realm or "$td",
                tls_listen=tls_listen,
                tls_modules=tls_modules,
            )
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [KAMAILIO, "-f", str(cfg), "-DD", "-E", "-m", "32", "-M", "4", "-Y", str(directory)],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, 30, lambda: f"kamailio did not start:\n{self.log()[-3000:]}")
        for auth_name, secret in users.items():
            self.set_user(auth_name, secret)

    def _tls(self) -> tuple[str, str]:
        """A certificate for TLS_HOST (Linphone 5.1 matches a server's name, never an IP address,
        against the certificate), and the configuration lines that listen with it."""
        if tools.which("kamailio-tls") is None:
            tools.missing("kamailio-tls")
        if tools.which("openssl") is None:
            tools.missing("openssl")
        key = self.directory / "key.pem"
        subject = ["-subj", f"/CN={TLS_HOST}", "-addext", f"subjectAltName=DNS:{TLS_HOST}"]
        files = ["-keyout", str(key), "-out", str(self.certificate)]
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *subject, *files],
            check=True,
            capture_output=True,
        )
        tls_cfg = self.directory / "tls.cfg"
        tls_cfg.write_text(
            f"[server:default]\nmethod = TLSv1.2+\ncertificate = {self.certificate}\nprivate_key = {key}\n"
        )
        listen = f"listen=tls:127.0.0.1:{self.tls_port}\nenable_tls=yes\n"
        return listen, f'loadmodule "tls.so"\nmodparam("tls", "config", "{tls_cfg}")\n'

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"kamailio exited ({self.process.returncode}):\n{self.log()[-3000:]}")
        if not self.control.exists():
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        return self.rpc("core.uptime", check=False).returncode == 0

    def rpc(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [KAMCMD, "-s", f"unix:{self.control}", *command], check=False, capture_output=True, text=True, timeout=10
        )
        if check and done.returncode != 0:
            pytest.fail(f"kamcmd {' '.join(command[:1])} failed: {done.stderr or done.stdout}")
        return done

    def set_user(self, auth_name: str, secret: str) -> None:
        """Accept `auth_name` with `secret` from now on (a changed secret takes effect at once)."""
        self.rpc("htable.sets", "users", f"s:{auth_name}", f"s:{secret}")  # s: else kamcmd sends 1001 as a number

    def remove_user(self, auth_name: str) -> None:
        self.rpc("htable.delete", "users", f"s:{auth_name}")

    def registers(self) -> list[Register]:
        """Every REGISTER with credentials so far, oldest first."""
        return [
            Register(m[1], m[2], m[3], m[4], m[5] or "")
            for m in map(_REGISTER_LINE.search, self.log().splitlines())
            if m
        ]

    def registered(self) -> set[str]:
        """The addresses of record with a live binding now (usrloc), e.g. {"alice@sip.example.test"}."""
        return set(re.findall(r"^\s*AoR: (\S+)$", self.rpc("ul.dump").stdout, re.MULTILINE))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


# --- linphonec ------------------------------------------------------------------------------

# Random SIP ports: several apps (and other tests' SIP peers) run at once; 5060 may be taken.
RC = """[misc]
config-uri={config_uri}

[sip]
sip_port=-1
sip_tcp_port=-1
sip_tls_port=-1
"""
# In linphonec's debug log: remote provisioning is over (fetched and applied, or failed) once it
# opens its SIP sockets; then each account says how its registration ended.
PROVISIONED = "Sal::unlistenPorts(): done"
_ACCOUNT_STATE = re.compile(r"for identity \[([^\]]*)\] moving from state \[\w+\] to \[(\w+)\]")
# The identity as the account has it, display name included: "Alice Martin" <sip:1001@domain>.
_STATUS = re.compile(r"registered, identity=(.+) duration=|registered=(-1|0)\b")


class Linphonec:
    """One Linphone app with its own HOME: `start()` fetches its config-uri, then registers (or not).

    The debug log (`log()`) holds what the app fetched, secrets included: it stays in the test's
    temporary directory.
    """

    def __init__(self, home: Path, config_uri: str, *, trusted: Path | None = None):
        """`trusted`: the certificate authority the phone trusts for TLS (else the system's)."""
        self.executable = require_linphonec()
        self.home = home
        (home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.rc = home / "linphonerc"
        self.rc.write_text(RC.format(config_uri=config_uri) + (f"root_ca={trusted}\n" if trusted else ""))
        self.starts = 0
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.home / f"linphonec-{self.starts}.log"

    def start(self) -> Linphonec:
        assert self.process is None, "already running"
        self.starts += 1
        self.output = []
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        self.process = subprocess.Popen(
            [self.executable, "-c", str(self.rc), "-d", "6", "-l", str(self.log_path)],
            cwd=self.home,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self.output.append(line)

    def stop(self) -> None:
        """Quit as a user would (it unregisters and saves its configuration); force it if it hangs."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                self._send(process, "quit")
                process.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if process.stdin:
            process.stdin.close()

    def restart(self, config_uri: str | None = None) -> Linphonec:
        """Start again with the same HOME (it fetches its config-uri again); `config_uri`: a new QR scanned."""
        self.stop()
        if config_uri is not None:
            self.rc.write_text(re.sub(r"(?m)^config-uri=.*$", f"config-uri={config_uri}", self.rc.read_text()))
        return self.start()

    def provisioned(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            pytest.fail(f"linphonec is not running:\n{self.diagnostics()}")
        return PROVISIONED in self.log()

    def registered_identity(self, timeout: float = 30.0) -> str | None:
        """The address it is registered with (sip:user@domain, without a display name) once the app
        has settled; None when it has no account, does not register, or its registration failed
        (wrong secret, unknown user)."""
        wait_until(self.provisioned, timeout, lambda: f"linphonec never finished provisioning:\n{self.diagnostics()}")
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status.group(1):
                identity = status.group(1)
                return identity[identity.rfind("<") + 1 : identity.rfind(">")] if "<" in identity else identity
            if status.group(2) == "0" or self.registration_failed():
                return None
            if time.monotonic() > deadline:
                pytest.fail(f"linphonec still registering after {timeout}s:\n{self.diagnostics()}")
            time.sleep(0.05)

    def registration_failed(self) -> bool:
        states = _ACCOUNT_STATE.findall(self.log())
        return bool(states) and states[-1][1] == "LinphoneRegistrationFailed"

    def status(self) -> re.Match[str]:
        """`status register`'s answer: group 1 the identity when registered, else group 2 -1 or 0."""
        assert self.process is not None
        with self._lock:
            seen = len(self.output)
        self._send(self.process, "status register")

        def answered() -> re.Match[str] | None:
            with self._lock:
                lines = self.output[seen:]
            if any("Password for" in line for line in lines):
                pytest.fail(f"linphonec asks for a password on stdin:\n{self.diagnostics()}")
            return next((match for line in lines if (match := _STATUS.search(line))), None)

        return wait_until(answered, 10, lambda: f"no answer to `status register`:\n{self.diagnostics()}")

    @staticmethod
    def _send(process: subprocess.Popen[str], command: str) -> None:
        assert process.stdin is not None
        process.stdin.write(command + "\n")
        process.stdin.flush()

    def stored(self, section: str, key: str) -> str | None:
        """A value in the app's saved configuration (its rc file), as the app keeps it across starts."""
        current = None
        for line in self.rc.read_text().splitlines():
            if line.startswith("["):
                current = line.strip()[1:-1]
            elif current == section and line.partition("=")[0] == key:
                return line.partition("=")[2]
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def diagnostics(self) -> str:
        with self._lock:
            output = "".join(line for line in self.output if "soundcard" not in line)
        log = "\n".join(line for line in self.log().splitlines() if "liblinphone" in line or "HTTP/" in line)
        return f"--- stdout\n{output[-3000:]}\n--- log (liblinphone lines)\n{log[-5000:]}"


@pytest.fixture
def linphones(tmp_path):
    """Linphone apps, each on a phone of its own (HOME): `linphones(url)` scans a QR code holding
    `url` and starts the app; all are quit at the end of the test."""
    started: list[Linphonec] = []

    def scan(url: str, trusted: Path | None = None) -> Linphonec:
        phone = Linphonec(tmp_path / f"phone{len(started)}", url, trusted=trusted)
        started.append(phone)
        return phone.start()

    yield scan
    for phone in started:
        phone.stop()


# --- a provisioning server for the harness's own tests ------------------------------------------


@dataclass(frozen=True)
class Fetch:
    method: str
    path: str
    headers: dict[str, str]


class StaticProvisioning:
    """An HTTP server on loopback answering fixed (status, body) per path, recording each request."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str]] = {}
        self.fetches: list[Fetch] = []
        provisioning = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provisioning.fetches.append(Fetch(self.command, self.path, dict(self.headers.items())))
                status, body = provisioning.answers.get(self.path, (404, "not here\n"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml" if body.startswith("<?xml") else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def serve(self, path: str, body: str, status: int = 200) -> str:
        self.answers[path] = (status, body)
        return self.url(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lpconfig(sections: dict[str, dict[str, str]]) -> str:
    """Linphone's remote-provisioning XML, every entry overwrite="true" (else a later provisioning
    changes nothing the app already has)."""
    from xml.etree import ElementTree as ET

    config = ET.Element("config", xmlns="http://www.linphone.org/xsds/lpconfig.xsd")
    for name, entries in sections.items():
        section = ET.SubElement(config, "section", name=name)
        for key, value in entries.items():
            ET.SubElement(section, "entry", name=key, overwrite="true").text = value
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(config, encoding="unicode")


def account_sections(
    registrar: Kamailio, user: str, secret: str, transport: str = "udp", auth_name: str | None = None
) -> dict[str, dict[str, str]]:
    address = f"{TLS_HOST}:{registrar.tls_port}" if transport == "tls" else f"127.0.0.1:{registrar.port}"
    server = f"sip:{address};transport={transport}"
    return {
        "proxy_0": {
            "reg_identity": f"sip:{user}@{SIP_DOMAIN}",
            "reg_proxy": f"<{server}>",
            "reg_route": f"<{server};lr>",
            "reg_expires": "3600",
            "reg_sendregister": "1",
        },
        "auth_info_0": {
            "username": user,
            "userid": auth_name or user,
            "passwd": secret,
            "ha1": "",
            "realm": SIP_DOMAIN,
            "domain": SIP_DOMAIN,
        },
    }


STOP_SECTIONS = {"proxy_0": {"reg_sendregister": "0"}, "auth_info_0": {"passwd": "", "ha1": ""}}
