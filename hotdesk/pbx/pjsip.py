"""Extensions as Asterisk's pjsip files define them: endpoints (`type=endpoint`), the `auth=`
section each names (`type=auth`: username, password) and the name in its `callerid`.

Read from pjsip.conf and whatever it includes (FreePBX: pjsip.endpoint.conf, pjsip.auth.conf,
pjsip.aor.conf, the *_custom.conf and *_custom_post.conf files), templates and inheritance as
hotdesk.pbx.config reads them. An endpoint without `auth=` (a trunk, or one authenticated by
address) is no desk phone's line and is passed over; one whose password hotdesk cannot have (an
md5 auth) is skipped with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotdesk.pbx import config

FILE = "pjsip.conf"
_NUMBER = re.compile(r"[0-9A-Za-z+*#_.-]{1,32}")  # what an extension number may be (hotdesk.directory)
_CALLERID = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<]*?))\s*(?:<([^>]*)>)?\s*$')


@dataclass(frozen=True)
class Endpoint:
    number: str  # the endpoint's section name: what phones register as, and the mailbox
    name: str  # callerid's name, else the number
    secret: str
    auth_name: str | None  # the auth's username when it is not the number
    file: str
    line: int


@dataclass(frozen=True)
class Skipped:
    number: str
    reason: str


@dataclass(frozen=True)
class Endpoints:
    endpoints: list[Endpoint]
    skipped: list[Skipped]


def read(directory: str) -> Endpoints:
    """Every phone endpoint of the pjsip files; ConfigError naming file and line for a line
    Asterisk would refuse, or an endpoint whose auth= names no auth section."""
    reading = config.read(directory, FILE, complete_lines=True)
    sections = [section for section in reading.sections if not section.template]
    auths: dict[str, config.Section] = {}
    for section in sections:
        if (section.get("type") or "").strip().lower() == "auth":
            auths.setdefault(section.name, section)
    endpoints: list[Endpoint] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for section in sections:
        if (section.get("type") or "").strip().lower() != "endpoint" or section.name in seen:
            continue
        seen.add(section.name)
        auth_names = [name.strip() for name in (section.get("auth") or "").split(",") if name.strip()]
        if not auth_names:
            continue  # a trunk, or identified by address: not a desk phone's line
        auth = auths.get(auth_names[0])
        if auth is None:
            raise config.ConfigError(
                section.file, section.line, f"endpoint {section.name}: auth={auth_names[0]} names no type=auth section"
            )
        if not _NUMBER.fullmatch(section.name):
            skipped.append(Skipped(section.name[:32], "not an extension number (digits, letters, + * # _ . -)"))
            continue
        auth_type = (auth.get("auth_type") or "userpass").strip().lower()
        password = auth.get("password") or ""
        if auth_type != "userpass" or not password:
            skipped.append(Skipped(section.name, f"auth {auth.name} has no password a phone could use ({auth_type})"))
            continue
        username = (auth.get("username") or "").strip() or None
        endpoints.append(
            Endpoint(
                number=section.name,
                name=callerid_name(section.get("callerid") or "") or section.name,
                secret=password,
                auth_name=username if username != section.name else None,
                file=section.file,
                line=section.line,
            )
        )
    return Endpoints(endpoints, skipped)


def callerid_name(callerid: str) -> str:
    """'"Alice Martin" <1001>' -> 'Alice Martin'; 'Bob <1002>' -> 'Bob'; '<1003>' -> ''."""
    match = _CALLERID.match(callerid)
    if not match:
        return ""
    quoted, bare = match.group(1), match.group(2)
    name = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
    return name.strip()[:128]
