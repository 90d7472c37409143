"""The OpenAPI 3.1 document of /app/v1/ (hotdesk.web.app_api), served at /app/v1/openapi.json.

Apart from /api/v1/'s (hotdesk.web.openapi): other callers (a person's app, no token), another
listener (the phone faces). tests/test_app_api.py runs schemathesis against the served document.
"""

from __future__ import annotations

from functools import cache

from hotdesk.people import MIN_PASSWORD
from hotdesk.softphone.sign_in import LONGEST_FIELD, LONGEST_PASSWORD

STRING = {"type": "string"}


def _field(description: str, longest: int = LONGEST_FIELD) -> dict:
    return {"type": "string", "maxLength": longest, "description": description}


SIP_DOMAIN = _field(
    "the tenant's SIP domain; an installation without tenants answers to the host of its external_address"
    " (or internal_address)"
)
SERVER = _field("the server address the person typed (public or private address, or web domain): not checked")
USERNAME = _field("the person's username (case-insensitive), or their full LOGIN username@sipdomain")
PASSWORD = _field("the account password: never the SIP secret or the voicemail PIN", LONGEST_PASSWORD)
NEW_PASSWORD = _field(
    f"at least {MIN_PASSWORD} printable characters (at most 128); not the SIP secret, the PIN, the current"
    " password or the username",
    LONGEST_PASSWORD,
)
ERROR = {"type": "object", "properties": {"error": STRING}, "required": ["error"]}
RETRY_AFTER = {"Retry-After": {"description": "seconds until the lock lifts", "schema": {"type": "string"}}}
ERRORS = {
    400: "Not a JSON object, a required field missing, not a string, too long, or a body over 4096 bytes",
    401: "Wrong username or password (the SIP secret and the PIN are wrong passwords), or an unknown domain",
    403: '`{"error": "password_change_required"}`: the password is right but generated (or temporary): change it'
    " first. With two_factor = email: no e-mail address (or no mail server) to send the access code to",
    404: "No tenant has this SIP domain here",
    422: "The new password is refused; `error` says why",
    429: "Too many failed sign-ins for this account or from this address (as the portal counts them), or too"
    " many requests from this address",
    503: "The server address apps are given is not set up yet",
}
ACCOUNT = {
    "type": "object",
    "description": "interfaces.md section 6: everything an app needs to register as the person's extension",
    "properties": {
        "sip_domain": STRING,
        "username": {"type": "string", "description": "the SIP user: the extension number"},
        "auth_name": STRING,
        "password": {"type": "string", "description": "the SIP secret"},
        "display_name": STRING,
        "server": STRING,
        "port": {"type": "integer"},
        "transport": {"type": "string", "enum": ["udp", "tcp", "tls"]},
        "outbound_proxy": {"type": "string", "description": "host[:port], or empty for none"},
        "realm": STRING,
        "login": {"type": "string", "description": "what the person signs in with"},
        "identity": {"type": "string", "description": "sip:USERNAME@SIP_DOMAIN"},
        "provisioning_url": {
            "type": "string",
            "description": "this app's own configuration URL (Linphone's config-uri; JSON with Accept:"
            " application/json): the account as it is at each fetch, until the app is revoked",
        },
    },
    "required": [
        "sip_domain",
        "username",
        "auth_name",
        "password",
        "display_name",
        "server",
        "port",
        "transport",
        "outbound_proxy",
        "provisioning_url",
    ],
}


CHALLENGE_ID = _field("the `challenge` of the 202 answer")
CHALLENGE = {
    "type": "object",
    "description": "two_factor = email (interfaces.md section 7): an access code was mailed to the person;"
    " `POST /app/v1/sign-in/code` with it gives the account",
    "properties": {
        "second_factor": {"type": "string", "enum": ["email"]},
        "challenge": {"type": "string", "description": "opaque; names this sign-in in the next two calls"},
        "sent_to": {"type": "string", "description": "the address the code went to, masked: a…@example.org"},
        "expires_at": {"type": "string", "format": "date-time", "description": "when the code stops working"},
    },
    "required": ["second_factor", "challenge", "sent_to", "expires_at"],
}
CODE_SENT = {
    "description": "two_factor = email: the password is right, and an access code is on its way instead of the account",
    "content": {"application/json": {"schema": CHALLENGE}},
}


def _body(properties: dict) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _operation(summary: str, description: str, body: dict, ok: dict, errors: tuple[int, ...]) -> dict:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for status in sorted({400, 429, *errors}):
        answer = {"description": ERRORS[status], "content": {"application/json": {"schema": ERROR}}}
        if status == 429:
            answer["headers"] = RETRY_AFTER
        responses[str(status)] = answer
    return {"summary": summary, "description": description, "requestBody": _body(body), "responses": responses}


def _sso_operation(account: dict) -> dict:
    """Single sign-on's last step (hotdesk.web.sso; README, 'Single sign-on'): a code, an optional verifier."""
    text = {"type": "string", "minLength": 1, "maxLength": 256}
    operation = _operation(
        "The account, for the code a single sign-on returned to the app's redirect URI",
        "The code works once, for two minutes. An app that began with its own `code_challenge` (S256) sends"
        " its `code_verifier` too. Each sign-in makes a new app of the person's, with its own `provisioning_url`.",
        {"code": text | {"description": "the `code` of `URI?code=CODE`"}},
        account,
        (401, 503),
    )
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    schema["properties"]["code_verifier"] = text | {"description": "the app's PKCE verifier, if it sent a challenge"}
    operation["responses"]["401"]["description"] = "The code is unknown, used, expired, or its verifier is wrong"
    return operation


def _with_code_sent(operation: dict) -> dict:
    operation["responses"]["202"] = CODE_SENT
    return operation


def _code_operation(account: dict) -> dict:
    operation = _operation(
        "The account, for the access code mailed after the password (two_factor = email)",
        "The code works once, until `expires_at`, and only the latest one mailed for the challenge. Five wrong"
        " codes end the challenge, and count as five wrong passwords against the account's sign-in lock.",
        {"challenge": CHALLENGE_ID, "code": _field("the code from the mail (spaces are ignored)")},
        account,
        (401, 503),
    )
    operation["responses"]["401"] = {
        "description": "A wrong code (`attempts_left` says how many more this challenge takes), or a challenge"
        " that is unknown, used, replaced, expired or ended: sign in again",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"error": STRING, "attempts_left": {"type": "integer", "minimum": 0}},
                    "required": ["error"],
                }
            }
        },
    }
    return operation


def _resend_operation() -> dict:
    operation = _operation(
        "A new access code for the challenge: the one before stops working",
        "At most 5 per challenge, 30 seconds apart; the challenge's `expires_at` starts afresh.",
        {"challenge": CHALLENGE_ID},
        CHALLENGE,
        (401, 403),
    )
    del operation["responses"]["200"]
    operation["responses"]["202"] = CODE_SENT | {"description": "A new code is on its way"}
    operation["responses"]["401"]["description"] = "The challenge is unknown, used, expired or ended: sign in again"
    operation["responses"]["403"]["description"] = "No more codes for this challenge: sign in again"
    operation["responses"]["429"]["description"] = "Too soon after the code before (Retry-After), or too many requests"
    return operation


@cache
def document() -> dict:
    account = {"type": "object", "properties": {"account": ACCOUNT}, "required": ["account"]}
    methods = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": ["password", "oidc"]}, "start_url": STRING},
            "required": ["type"],
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotdesk app sign-in",
            "version": "1",
            "description": "A softphone app's manual sign-in (README, 'Softphone apps: manual sign-in'): SIP domain"
            " and server, then the person's username and account password. No token, no cookie; limited per"
            " address; every sign-in and failure is in the tenant's history.",
        },
        "paths": {
            "/app/v1/discover": {
                "post": _operation(
                    "The tenant a SIP domain names, and how its people sign in",
                    "`methods`: `password` always; `oidc` (with `start_url`) once the tenant has single sign-on.",
                    {"sip_domain": SIP_DOMAIN, "server": SERVER},
                    {
                        "type": "object",
                        "properties": {"tenant": STRING, "methods": methods},
                        "required": ["tenant", "methods"],
                    },
                    (404,),
                )
            },
            "/app/v1/sign-in": {
                "post": _with_code_sent(
                    _operation(
                        "The account, for the person's username and account password",
                        "Each sign-in makes a new app of the person's (`hotdesk users apps`), with its own"
                        " `provisioning_url`, revocable on its own. With two_factor = email: 202 and a challenge.",
                        {"sip_domain": SIP_DOMAIN, "username": USERNAME, "password": PASSWORD},
                        account,
                        (401, 403, 503),
                    )
                )
            },
            "/app/v1/sign-in/code": {"post": _code_operation(account)},
            "/app/v1/sign-in/resend": {"post": _resend_operation()},
            "/app/v1/sign-in/sso": {
                "post": _sso_operation(account),
            },
            "/app/v1/change-password": {
                "post": _with_code_sent(
                    _operation(
                        "Change the account password (first the generated one), and get the account",
                        "The current password is checked (and throttled) as sign-in checks it. With two_factor ="
                        " email the password is changed, and the account follows the access code (202).",
                        {
                            "sip_domain": SIP_DOMAIN,
                            "username": USERNAME,
                            "password": PASSWORD,
                            "new_password": NEW_PASSWORD,
                        },
                        account,
                        (401, 422, 503),
                    )
                )
            },
        },
    }
