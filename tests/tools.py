"""What the suite drives besides Python, and the Debian packages that provide it.

`make test` first runs `python3 -m tests.tools` (`make test-deps`): it installs whatever is missing
when it may (root, or sudo without a password; apt-get, never prompting), else says what it could
not. A test needing a missing tool then skips (fails under CI, which must have everything), and
pytest's summary ends with one list of what was skipped for it and the command that installs it
(conftest.py's pytest_terminal_summary). Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from typing import NoReturn

PACKAGES = {  # tool -> Debian package
    "sipp": "sip-tester",  # the real SIP peer receiving NOTIFYs (tests/sipp.py)
    "nginx": "nginx",  # deploy/ as shipped (tests/test_deploy.py)
    "openssl": "openssl",  # the deployment test's certificate
    "chromium": "chromium",  # the console in a browser, driven by Playwright (tests/test_console_browser.py)
    "linphonec": "linphone-cli",  # the softphone app that scans the QR code (tests/softphone_real.py)
    "kamailio": "kamailio",  # the SIP registrar the app registers to, kamcmd included (tests/softphone_real.py)
    "kamailio-tls": "kamailio-tls-modules",  # the registrar over TLS
    "node": "nodejs",  # the OpenID provider of the single sign-on tests (tests/oidc/, tests/test_sso.py)
    "npm": "npm",  # installs that provider (`npm ci` in tests/oidc)
}
FILES = {"kamailio-tls": "/usr/lib/*/kamailio/modules/tls.so"}  # what is no command: a file the package installs
OIDC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc")
OIDC_PROVIDER = "oidc-provider"  # what a skip names when tests/oidc/node_modules is missing
_SKIPPED = re.compile(r"(\S+) is not installed \(Debian package (\S+)\)")


def which(tool: str) -> str | None:
    """The tool's path; /usr/sbin too, which is not on a user's PATH (nginx)."""
    if tool in FILES:
        return next(iter(sorted(glob.glob(FILES[tool]))), None)
    return shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def missing(tool: str) -> NoReturn:
    """Skip the test that needs `tool` (fail it under CI), in the words the summary counts."""
    import pytest

    if tool == OIDC_PROVIDER:
        reason = f"{tool} is not installed (npm ci in tests/oidc: `make test-deps`)"
    else:
        reason = f"{tool} is not installed (Debian package {PACKAGES[tool]})"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def node_packages_installed() -> bool:
    """Is tests/oidc/node_modules what tests/oidc/package-lock.json says (as `npm ci` left it)?"""
    installed = os.path.join(OIDC_DIR, "node_modules", ".package-lock.json")
    lock = os.path.join(OIDC_DIR, "package-lock.json")
    return os.path.exists(installed) and os.path.getmtime(installed) >= os.path.getmtime(lock)


def install_node_packages() -> None:
    """`npm ci` in tests/oidc (the OpenID provider the SSO tests start), unless it is installed already."""
    npm = which("npm")
    if node_packages_installed():
        return
    if npm is None:
        print("test-deps: no npm: the single sign-on tests will skip.", file=sys.stderr)
        return
    print("test-deps: npm ci in tests/oidc", file=sys.stderr)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC_DIR, check=False, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        print("test-deps: npm ci failed in tests/oidc: the single sign-on tests will skip.", file=sys.stderr)


def install_command(packages: Iterable[str]) -> str:
    return f"sudo apt-get install --no-install-recommends {' '.join(sorted(set(packages)))}"


def skipped_for_missing_tools(reasons: Iterable[str]) -> Counter[str]:
    """Debian package -> how many tests skipped for want of it, from the skip reasons."""
    return Counter(match.group(2) for reason in reasons if (match := _SKIPPED.search(reason)))


def missing_packages() -> list[str]:
    packages = {package for tool, package in PACKAGES.items() if which(tool) is None}
    if importlib.util.find_spec("ensurepip") is None:  # Debian's python3 makes no venv without it
        packages.add("python3-venv")
    return sorted(packages)


def _as_root() -> list[str] | None:
    """The prefix that runs a command as root without a prompt, or None if nothing can."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and _succeeds([sudo, "-n", "true"]):
        return [sudo, "-n"]
    return None


def _succeeds(command: list[str]) -> bool:
    """Run without a terminal to prompt on (CI has no stdin) nor its chatter; did it succeed?"""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    return done.returncode == 0


def install() -> int:
    """Install what the suite needs and is missing, if allowed; always 0: the tests say the rest."""
    _install_debian_packages()
    install_node_packages()
    return 0


def _install_debian_packages() -> None:
    packages = missing_packages()
    if not packages:
        return
    root = _as_root()
    apt_get = shutil.which("apt-get")
    if root is None or apt_get is None:
        why = "not root and no sudo without a password" if apt_get else "no apt-get on this machine"
        print(
            f"test-deps: not installing {', '.join(packages)} ({why}); the tests needing them will skip.\n"
            f"test-deps: install them with: {install_command(packages)}",
            file=sys.stderr,
        )
        return
    print(f"test-deps: installing {', '.join(packages)}", file=sys.stderr)
    if not (
        _succeeds([*root, apt_get, "update", "-qq"])
        and _succeeds([*root, apt_get, "install", "-y", "-qq", "--no-install-recommends", *packages])
    ):
        print(
            f"test-deps: apt-get could not install {', '.join(packages)}; the tests needing them will skip.",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(install())
