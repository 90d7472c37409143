"""A real OpenID provider on loopback for the single sign-on tests: Node's certified `oidc-provider`
(tests/oidc/provider.mjs, installed by `make test-deps`), with keys, clients and accounts the test
chooses, and a person who signs in there through its login form, over plain HTTP."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from joserfc.jwk import RSAKey

from tests import tools

PROVIDER = Path(tools.OIDC_DIR) / "provider.mjs"


def new_key(kid: str) -> dict[str, Any]:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"}, private=True).as_dict(
        private=True
    )


@dataclass
class OpenIDProvider:
    workdir: Path
    clients: list[dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    keys: list[dict[str, Any]] = field(default_factory=lambda: [new_key("first")])
    port: int = 0
    client_auth_methods: list[str] | None = None  # what the token endpoint takes (None: the package's default)
    issuer: str = ""
    process: subprocess.Popen | None = None

    def start(self) -> OpenIDProvider:
        node = tools.which("node")
        if node is None:
            tools.missing("node")
        if not tools.node_packages_installed():
            tools.missing(tools.OIDC_PROVIDER)
        config = self.workdir / "provider.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "keys": {"keys": self.keys},
                    "clients": self.clients,
                    "accounts": self.accounts,
                    "clientAuthMethods": self.client_auth_methods,
                }
            )
        )
        self.process = subprocess.Popen(
            [node, str(PROVIDER), str(config)],
            stdout=subprocess.PIPE,
            stderr=open(self.workdir / "provider.log", "ab"),  # noqa: SIM115 (the process keeps it)
            env={**os.environ, "NODE_ENV": "test"},
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the OpenID provider did not start: {(self.workdir / 'provider.log').read_text()}")
        self.issuer = json.loads(line)["issuer"]
        self.port = urlsplit(self.issuer).port or 0
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def rotate_keys(self, *keys: dict[str, Any]) -> None:
        """The provider signs with `keys[0]` from now on and publishes only `keys` (same issuer)."""
        self.stop()
        self.keys = list(keys)
        self.start()

    def tamper(self, mode: str) -> None:
        requests.post(f"{self.issuer}/test/tamper", json={"mode": mode}, timeout=5).raise_for_status()

    def sign_in(self, authorization_url: str, login: str, returns_to: str) -> str:
        """A person in a browser of their own at the provider: its login form, as `login`; the URL
        the provider sends the browser back to (the first one under `returns_to`)."""
        browser = requests.Session()
        url, method, data = authorization_url, "GET", None
        for _ in range(20):
            answer = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
            if answer.is_redirect:
                url, method, data = urljoin(url, answer.headers["Location"]), "GET", None
                if url.startswith(returns_to):
                    return url
                continue
            assert answer.status_code == 200, f"{url}: {answer.status_code} {answer.text[:300]}"
            assert 'name="login"' in answer.text, answer.text[:300]
            action = answer.text.split('action="', 1)[1].split('"', 1)[0]
            url, method, data = urljoin(url, action), "POST", {"login": login}
        raise AssertionError("the provider never sent the browser back")
