"""Which phone is this request about? Answered here, once per request, for every face that asks.

A request names a phone by what its sender writes: the MAC in its User-Agent (most brands), the
MAC in the file it asks for (`<mac>.cfg`), or the device token in a phone-app URL. None of these
proves anything (hotdesk.trust decides what does); they say which phone the request is *about*:
whose copy may answer it (web/published_answers.py), whose file is rendered (web/provision.py),
whose limits it counts against (web/ratelimit.py), in whose dialect a refusal is written
(web/phoneapp.py).

A request whose User-Agent names one MAC and whose file names another is about no phone: it is
refused as an unknown file, and counted against its address.

`named_by` needs no Flask: the published-copy middleware, which runs before Flask, calls it and
leaves its answer in the WSGI environ, where `named_phone` finds it for the same file.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from flask import g, request

from hotdesk import brands
from hotdesk.brands import Brand, FileKind, Headers, Identity, RequestedFile
from hotdesk.web.links import device_from_token

_ENVIRON_KEY = "hotdesk.named_phone"  # (file name, NamedPhone) the middleware worked out


@dataclass(frozen=True)
class NamedPhone:
    brand: Brand | None = None  # the brand the User-Agent (and headers) declare
    identity: Identity | None = None  # what the User-Agent says about the phone
    requested: RequestedFile | None = None  # the file asked for, as that brand names its files
    mac: str | None = None  # the phone the request is about; None: it names none, or two

    @property
    def names_two(self) -> bool:
        """The User-Agent names one MAC and the file another."""
        file_mac = self.requested.mac if self.requested and self.requested.kind is FileKind.DEVICE else None
        return bool(self.identity and self.identity.mac and file_mac and self.identity.mac != file_mac)


NO_PHONE = NamedPhone()


def named_by(user_agent: str, headers: Headers, filename: str | None) -> NamedPhone:
    """The phone a request with this User-Agent and headers, asking for `filename` (None: no file), is about."""
    found = brands.recognise(user_agent, headers)
    if found is None:
        return NO_PHONE
    brand, identity = found
    requested = brand.requested_file(filename) if filename is not None else None
    phone = NamedPhone(brand, identity, requested)
    if phone.names_two:
        return phone
    # A device file names its phone; a common file (or none) only the User-Agent does.
    mac = requested.mac if requested and requested.kind is FileKind.DEVICE else identity.mac
    return NamedPhone(brand, identity, requested, mac)


def remember(environ: MutableMapping[str, Any], filename: str, phone: NamedPhone) -> None:
    """Leave the middleware's answer for Flask, so the request does not work it out twice."""
    environ[_ENVIRON_KEY] = (filename, phone)


def named_phone() -> NamedPhone:
    """The phone this Flask request is about (worked out once per request)."""
    if "named_phone" not in g:
        g.named_phone = _named_phone()
        request.environ.setdefault(_ENVIRON_KEY, ((request.view_args or {}).get("filename"), g.named_phone))
    return g.named_phone


def peek(environ: MutableMapping[str, Any]) -> NamedPhone | None:
    """The phone a finished request was about, if anything asked (the provisioning metrics' brand)."""
    remembered = environ.get(_ENVIRON_KEY)
    return remembered[1] if remembered is not None else None


def _named_phone() -> NamedPhone:
    args = request.view_args or {}
    user_agent = request.headers.get("User-Agent", "")
    if "token" in args:  # the phone app: the token names the phone; the User-Agent only its dialect
        found = named_by(user_agent, request.headers, None)
        return NamedPhone(found.brand, found.identity, None, device_from_token(args["token"]))
    filename = args.get("filename", "")
    remembered = request.environ.get(_ENVIRON_KEY)
    if remembered is not None and remembered[0] == filename:
        return remembered[1]
    return named_by(user_agent, request.headers, filename)
