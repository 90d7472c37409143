"""The OpenAPI 3.1 document of /api/v1/ (hotdesk.web.api), served at /api/v1/openapi.json.

tests/test_api_schema.py runs schemathesis against the served document, so a route that drifts
from what is written here fails the suite.
"""

from __future__ import annotations

from functools import cache

from hotdesk.admin import MAX_PAGE_SIZE, history, phones
from hotdesk.admin.templates import MAX_BODY
from hotdesk.people import CELL_PATTERN, MIN_PASSWORD, USERNAME_PATTERN

STRING = {"type": "string"}
NULLABLE = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
NUMBER_PATTERN = "^[0-9A-Za-z+*#_.-]{1,32}$"
USERNAME = {
    "type": "string",
    "pattern": USERNAME_PATTERN,
    "description": "the user account's username (stored in lower case), unique in the tenant, not the number",
}
CELL = {"type": ["string", "null"], "pattern": CELL_PATTERN, "description": "the user's cell (mobile) number"}
USER_PASSWORD = {
    "type": "string",
    "minLength": MIN_PASSWORD,
    "maxLength": 128,
    "description": "printable characters; never the SIP secret or the voicemail PIN",
}
SECRET = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "description": "under secret_policy strong (the default): at least 8 characters with an upper-case and a"
    " lower-case letter, a digit and one of ! % * _ -, and no other characters; else 422 naming every rule broken"
    " (GET /secrets/generate makes one)",
}
QR_TRANSPORT = {
    "type": ["string", "null"],
    "enum": ["udp", "tcp", "tls", "", None],
    "description": "the transport the user's softphone app is given (null or empty: the tenant's qr_transport)",
}
QR_ADDRESS = {
    "type": ["string", "null"],
    "enum": ["external", "internal", "", None],
    "description": "which server address the user's softphone app is given (null or empty: the tenant's qr_address)",
}
PIN = {
    "type": ["string", "null"],
    "pattern": "^[0-9]*$",
    "maxLength": 32,
    "description": "digits, as many as pin_length allows (default 4-12), else 422",
}

ERRORS = {
    400: "Malformed request: not JSON, not an object, an unknown or mistyped field",
    401: "No valid API token, or it expired",
    403: "The token lacks the scope this needs (read: GET; write: changes; secrets: answers with secrets)",
    404: "No such resource",
    409: "Conflicts with what exists",
    415: "Wrong Content-Type",
    422: "A value the rules refuse; `error` says which field and why",
}


def _obj(properties: dict, required: tuple[str, ...] | None = None, **extra) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
        **extra,
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _operation(
    summary: str,
    ok: dict[int, tuple[str, dict | None]],
    errors: tuple[int, ...],
    *,
    params=(),
    body=None,
    body_required: bool = True,
) -> dict:
    responses = {}
    for status, (description, content) in ok.items():
        responses[str(status)] = {"description": description} | ({"content": content} if content else {})
    for status in sorted({400, 401, 403, *errors}):  # 400: an unknown query parameter, on any operation
        responses[str(status)] = {"description": ERRORS[status], "content": _json(_ref("Error"))}
    operation = {"summary": summary, "responses": responses}
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": body}
    return operation


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string", "minLength": 1}}


def _limit(maximum: int) -> dict:
    return _query("limit", {"type": "integer", "minimum": 1, "maximum": maximum}, "page size")


def _page(item: str) -> dict:
    return _obj(
        {"items": {"type": "array", "items": _ref(item)}, "next": NULLABLE},
        description="`next`: pass it back as the cursor",
    )


def _list(item: str) -> dict:
    return _obj({"items": {"type": "array", "items": _ref(item)}})


def _import_result(row: dict, **extra: dict) -> dict:
    """What a CSV import answers: each row's action, every bad row (then also `error`: the first)."""
    rows = {"type": "array", "items": _obj({"line": {"type": "integer"}, **row})}
    errors = {"type": "array", "items": STRING, "description": "every bad row: file, line, field"}
    properties = {"error": STRING, "dry_run": {"type": "boolean"}, "rows": rows, "errors": errors, **extra}
    return {"type": "object", "properties": properties, "required": ["dry_run", "rows", "errors", *extra]}


CSV = {"text/csv": {"schema": {"type": "string"}}}
NUMBER = _path("number")
BRAND = _path("brand")
NAME = _path("name")
MAC = _path("mac")
HISTORY_FILTERS = (
    _query("extension", STRING),
    _query("mac", STRING, "any common MAC notation"),
    _query("kind", {"type": "string", "enum": list(history.KINDS)}),
    _query("since", STRING, "YYYY-MM-DD or ISO 8601 date-time (UTC unless it says)"),
    _query("until", STRING, "YYYY-MM-DD (through that day) or ISO 8601 date-time, exclusive"),
)

SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {"error": STRING},
        "required": ["error"],
        "description": "Every 4xx answer; an import refused also carries its rows and every error",
    },
    "Pinned": _obj({"brand": STRING, "template": STRING}),
    "Extension": _obj(
        {
            "number": STRING,
            "name": STRING,
            "auth_name": NULLABLE,
            "email": NULLABLE,
            "has_voicemail_pin": {"type": "boolean"},
            "pins": {"type": "array", "items": _ref("Pinned")},
            "username": {"type": ["string", "null"], "description": "null: no user account (yet)"},
            "cell": NULLABLE,
            "must_change_password": {
                "type": ["boolean", "null"],
                "description": "the user must change the account password at the next sign-in",
            },
            "qr_transport": QR_TRANSPORT,
            "qr_address": QR_ADDRESS,
        },
        description="Never carries the SIP secret, the voicemail PIN or an account password",
    ),
    "UserPassword": _obj(
        {
            "username": STRING,
            "login": {"type": "string", "description": "what the user signs in with: username@sipdomain"},
            "user_password": {
                "type": ["string", "null"],
                "description": "a generated password until the user changes it; null for one a person chose",
            },
            "must_change_password": {"type": "boolean"},
        }
    ),
    "NewUserPassword": _obj(
        {
            "password": USER_PASSWORD | {"type": ["string", "null"]},
            "temporary": {"type": "boolean", "description": "the user must change it at the next sign-in"},
        },
        required=(),
        description="No password (or null): one is generated, to be changed at the next sign-in",
    ),
    "ExtensionPage": _page("Extension"),
    "NewExtension": _obj(
        {
            "number": {"type": "string", "pattern": NUMBER_PATTERN},
            "name": {"type": "string", "minLength": 1, "description": "1 to 128 printable characters"},
            "secret": SECRET,
            "voicemail_pin": PIN,
            "email": {"type": ["string", "null"], "maxLength": 254},
            "auth_name": {"type": ["string", "null"], "maxLength": 64},
            "template": {"type": ["string", "null"], "description": "pin to brand/name"},
            "username": USERNAME | {"type": ["string", "null"], "description": "default: made of the name"},
            "user_password": USER_PASSWORD
            | {"type": ["string", "null"], "description": "default: generated, to be changed at the first sign-in"},
            "cell": CELL,
        },
        required=("number", "name", "secret"),
    ),
    "ExtensionChanges": _obj(
        {
            "name": {"type": "string", "minLength": 1},
            "secret": SECRET,
            "voicemail_pin": PIN,
            "email": {"type": ["string", "null"], "maxLength": 254},
            "auth_name": {"type": ["string", "null"], "maxLength": 64},
            "template": {"type": ["string", "null"]},
            "username": USERNAME | {"description": "renames the user account, or opens one for an extension without"},
            "cell": CELL,
            "qr_transport": QR_TRANSPORT,
            "qr_address": QR_ADDRESS,
        },
        required=(),
        description="Fields left out keep their value; null or empty clears an optional field",
    ),
    "ImportResult": _import_result(
        {"extension": STRING, "action": {"type": "string", "enum": ["add", "update"]}},
        weak_secrets={
            "type": "array",
            "items": STRING,
            "description": "extensions whose secret breaks the strong secret policy (imported all the same"
            " under secret_policy strong; GET /extensions/weak-secrets lists them later)",
        },
        weak_pins={
            "type": "array",
            "items": STRING,
            "description": "extensions whose PIN is outside pin_length or trivial to guess (imported all the same)",
        },
    ),
    "SyncResult": _obj(
        {
            "dry_run": {"type": "boolean"},
            "changes": {
                "type": "array",
                "items": _obj(
                    {
                        "extension": STRING,
                        "action": {"type": "string", "enum": ["add", "change", "take over", "remove", "skip"]},
                        "detail": {"type": "string", "description": "fields changed, or why skipped; never a secret"},
                    }
                ),
            },
            "summary": STRING,
            "unchanged": {"type": "integer"},
            "weak_secrets": {
                "type": "array",
                "items": STRING,
                "description": "extensions whose secret breaks the secret policy: the PBX's, reported, not refused",
            },
            "accounts_opened": {"type": "integer"},
        }
    ),
    "DeviceImportResult": _import_result(
        {
            "mac": STRING,
            "address": NULLABLE,
            "action": {
                "type": "string",
                "enum": ["add", "admit", "keep"],
                "description": "keep: admitted already, left as it is",
            },
        }
    ),
    "SignInUrl": _obj(
        {
            "url": {
                "type": "string",
                "description": "what the user's QR code holds: an app that fetches it is signed in, once",
            },
            "expires_at": {"type": "string", "format": "date-time"},
            "warning": {
                "type": ["string", "null"],
                "description": "why apps will not sign in with it (an https address that names an IP), or null",
            },
        },
        description="No password in it; used once, or replaced by a refresh, it answers 404",
    ),
    "App": _obj(
        {
            "id": {"type": "integer"},
            "label": {"type": "string", "description": "the app's name, as it told it (its User-Agent)"},
            "signed_in_at": {"type": "string", "format": "date-time"},
            "last_seen_at": TIME,
            "last_address": NULLABLE,
            "revoked_at": TIME,
        },
        description="A softphone app signed in to the user's account; revoked: it stops at its next start",
    ),
    "AppList": _list("App"),
    "Weak": _obj({"extension": STRING, "reason": {"type": "string", "description": "the rules it breaks, in words"}}),
    "WeakList": _list("Weak"),
    "GeneratedSecret": _obj({"secret": {"type": "string", "pattern": "^[A-Za-z0-9!%*_-]{16}$"}}),
    "Template": _obj({"brand": STRING, "name": STRING, "is_default": {"type": "boolean"}, "updated_at": TIME}),
    "TemplateWithBody": _obj(
        {"brand": STRING, "name": STRING, "is_default": {"type": "boolean"}, "updated_at": TIME, "body": STRING}
    ),
    "TemplateList": _list("Template"),
    "TemplateBody": _obj({"body": {"type": "string", "maxLength": MAX_BODY}}),
    "Pin": _obj({"extension": STRING, "brand": STRING, "template": STRING}),
    "PinList": _list("Pin"),
    "PinBody": _obj({"template": STRING}),
    "Seat": _obj(
        {
            "extension": STRING,
            "name": STRING,
            "mac": STRING,
            "brand": STRING,
            "model": NULLABLE,
            "template": {"type": "string", "description": "brand/name the phone is served"},
            "address": {"type": "string", "enum": ["external", "internal"]},
            "since": {"type": "string", "format": "date-time"},
            "expires_at": TIME,
            "ip": NULLABLE,
        }
    ),
    "SeatList": _list("Seat"),
    "Device": _obj(
        {
            "mac": STRING,
            "brand": STRING,
            "model": NULLABLE,
            "firmware": NULLABLE,
            "last_ip": NULLABLE,
            "last_seen": TIME,
            "own_credentials": {"type": "boolean"},
            "logged_in": {"type": ["string", "null"], "description": "extension logged in, if any"},
            "admitted": {"type": "boolean", "description": "false: waiting for an admin (device_admission)"},
            "admitted_at": TIME,
            "admitted_by": {"type": ["string", "null"], "description": "null: admitted by device_admission = open"},
            "admitted_address": {
                "type": ["string", "null"],
                "description": "the only address its credentials are issued to, if any",
            },
            "waiting_addresses": {
                "type": "array",
                "items": STRING,
                "description": "every address it was asked for from while it waited; more than one: admit it"
                " with the address of the real phone",
            },
            "mismatch": {
                "oneOf": [
                    {"type": "null"},
                    _obj({"at": {"type": "string", "format": "date-time"}, "detail": STRING}),
                ],
                "description": "the latest refused request that named the phone without proving it and claimed"
                " another brand or model",
            },
            "shared_credentials_fetch": {
                "oneOf": [
                    {"type": "null"},
                    _obj({"at": {"type": "string", "format": "date-time"}, "ip": NULLABLE}),
                ],
                "description": "the latest fetch with the shared credentials although the phone has its own (hourly)",
            },
        }
    ),
    "DevicePage": _page("Device"),
    "DeviceList": _list("Device"),
    "NewDevice": _obj({"mac": STRING, "address": NULLABLE}, required=("mac",)),
    "Admission": _obj({"address": NULLABLE}, required=()),
    "LogoutResult": _obj(
        {"mac": STRING, "logged_out": {"type": ["string", "null"], "description": "null: nobody was logged in"}}
    ),
    "AdminLoginBody": _obj(
        {
            "extension": {"type": "string", "minLength": 1},
            "address": {"type": "string", "enum": ["external", "internal"], "description": "default external"},
        },
        required=("extension",),
    ),
    "AdminLoginResult": _obj(
        {
            "mac": STRING,
            "extension": STRING,
            "address": {"type": "string", "enum": ["external", "internal"]},
            "ip": {"type": "string", "description": "the phone's known address, which the login is bound to"},
            "logged_out": {"type": "array", "items": STRING, "description": "phones this login displaced"},
        }
    ),
    "UnlockResult": _obj({"unlocked": {"type": "string", "description": "what was unlocked, in words"}}),
    "Lockout": _obj(
        {
            "kind": {"type": "string", "enum": ["extension", "phone"]},
            "key": {"type": "string", "description": "the extension number or the MAC"},
            "scope": {"type": "string", "description": "where the lock applies"},
            "until": {"type": "string", "format": "date-time"},
            "level": {"type": "integer", "description": "1: the first lock; each further one lasts twice as long"},
            "failures": {"type": "integer"},
        }
    ),
    "LockoutList": _list("Lockout"),
    "Mail": _obj(
        {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["account", "test"]},
            "recipient": STRING,
            "extension": {"type": ["string", "null"], "description": "the account's, for an account mail"},
            "state": {"type": "string", "enum": ["queued", "sent", "failed"], "description": "failed: given up"},
            "attempts": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "next_attempt_at": TIME,
            "sent_at": TIME,
            "failed_at": TIME,
            "last_error": {"type": ["string", "null"], "description": "the last failure's reason"},
        }
    ),
    "MailList": _list("Mail"),
    "TestMail": _obj({"recipient": {"type": "string", "minLength": 3, "maxLength": 254}}),
    "Setting": _obj(
        {
            "name": STRING,
            "value": {"type": ["string", "null"], "description": "null in lists for secrets"},
            "help": STRING,
            "secret": {"type": "boolean"},
        }
    ),
    "SettingList": _list("Setting"),
    "SettingValue": _obj({"value": STRING}),
    "Event": _obj(
        {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "kind": STRING,
            **dict.fromkeys(history.COLUMNS[3:], NULLABLE),
        }
    ),
    "EventPage": _page("Event"),
    "Occupancy": _obj(
        {
            "since": {"type": "string", "format": "date"},
            "until": {"type": "string", "format": "date"},
            "timezone": STRING,
            "sessions": {"type": "integer"},
            "average_session_seconds": {"type": "integer"},
            "peak": {"type": "integer", "description": "most phones logged in at once"},
            "ongoing": {"type": "integer", "description": "sessions still going on, counted as if they ended now"},
            "days": {
                "type": "array",
                "items": _obj(
                    {
                        "day": {"type": "string", "format": "date"},
                        **{key: {"type": "integer"} for key in ("phones", "peak", "sessions", "seconds")},
                    }
                ),
            },
            "hours": {
                "type": "array",
                "items": _obj(
                    {"hour": {"type": "integer"}, "average": {"type": "number"}, "peak": {"type": "integer"}}
                ),
            },
            **{
                name: {
                    "type": "array",
                    "items": _obj({"key": STRING, **{key: {"type": "integer"} for key in ("sessions", "seconds")}}),
                }
                for name in ("phones", "extensions")
            },
        },
        description="Days in the tenant's time zone; a session counts on the day it ended; phones most used first",
    ),
    "Tenant": _obj(
        {"name": STRING, "sip_domain": NULLABLE, "extensions": {"type": "integer"}},
        description="An organisation on this server (system tokens only)",
    ),
    "TenantList": _list("Tenant"),
    "NewTenant": _obj({"name": STRING, "sip_domain": STRING}),
    "MadeTenant": _obj(
        {
            "name": STRING,
            "sip_domain": STRING,
            "extensions": {"type": "integer"},
            "provisioning_username": STRING,
            "provisioning_password": STRING,
        },
        description="The provisioning credentials its phones fetch with: shown in this answer only",
    ),
}


# Operations whose answer carries SIP secrets, PINs or provisioning passwords: the secrets scope.
# An import's generated user passwords: answered to a token with the secrets scope only, so optional.
SCHEMAS["ImportResult"]["properties"]["user_passwords"] = {
    "type": "array",
    "items": _obj({"extension": STRING, "username": STRING, "user_password": STRING}),
    "description": "the passwords the import generated for new user accounts, once; only to a token with the"
    " secrets scope (the others read each at /extensions/{number}/user-password)",
}


# A weak secret's or PIN's reasons say much of it ("one digit repeated"): the secrets scope too.
SECRET_OPERATIONS = {
    ("/extensions/export", "get"),
    ("/extensions/weak-secrets", "get"),
    ("/extensions/weak-pins", "get"),
    ("/tenants", "post"),
    ("/extensions/{number}/user-password", "get"),
    ("/extensions/{number}/user-password", "post"),
    # A sign-in URL is worth the SIP secret until it is used or expires.
    ("/extensions/{number}/qr", "get"),
    ("/extensions/{number}/qr", "post"),
}

# Every operation acts for one tenant (hotdesk.web.api._tenant_of): a tenant token's own; a system
# token's ?tenant=NAME, else the default tenant. Operations about tenants themselves take none.
TENANT = _query(
    "tenant",
    {"type": "string", "minLength": 1},
    "the tenant to act for (system tokens; default: the default tenant). A tenant token acts for its own "
    "tenant: naming another answers 404, as a tenant that does not exist",
)
TENANTS_PATHS = ("/tenants", "/tenants/{name}")


@cache
def document() -> dict:
    """The document, each operation naming the token scopes it needs (3.1 allows them for any scheme)."""
    doc = _document()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                scopes = ["read"] if method == "get" else ["write"]
                if (path, method) in SECRET_OPERATIONS:
                    scopes.append("secrets")
                operation["security"] = [{"bearer": scopes}]
                if path not in TENANTS_PATHS:
                    operation.setdefault("parameters", []).append(TENANT)
                    operation["responses"].setdefault(
                        "404", {"description": ERRORS[404], "content": _json(_ref("Error"))}
                    )
    return doc


def _document() -> dict:
    ok = "OK"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotdesk",
            "version": "1",
            "description": "Extensions, provisioning templates, pins, phones, settings and history of a hotdesk "
            "server. "
            "Authenticate with `Authorization: Bearer <token>` (`hotdesk tokens create NAME`); a token's scopes "
            "decide what it may do: `read` (GET), `write` (changes), `secrets` (answers carrying SIP secrets, PINs "
            "or provisioning passwords). A token is a system token or a tenant's (`--tenant T`): every operation "
            "acts for one tenant, a tenant token's own or the one a system token names with `?tenant=NAME` (else the "
            "default tenant); another tenant's objects answer 404, as if absent. Lists are paged by cursor: "
            "pass `next` back as `after` (or `before` for history). Every 4xx answer is a JSON object with `error`.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "paths": {
            "/extensions": {
                "get": _operation(
                    "Extensions in number order",
                    {200: (ok, _json(_ref("ExtensionPage")))},
                    (400, 422),
                    params=(
                        _query("search", STRING, "number prefix or part of the name"),
                        _query("after", STRING),
                        _limit(MAX_PAGE_SIZE),
                    ),
                ),
                "post": _operation(
                    "Add an extension",
                    {201: ("Added", _json(_ref("Extension")))},
                    (400, 409, 415, 422),
                    body=_json(_ref("NewExtension")),
                ),
            },
            "/extensions/{number}": {
                "parameters": [NUMBER],
                "get": _operation("One extension", {200: (ok, _json(_ref("Extension")))}, (404,)),
                "patch": _operation(
                    "Change some fields of an extension",
                    {200: ("Changed", _json(_ref("Extension")))},
                    (400, 404, 415, 422),
                    body=_json(_ref("ExtensionChanges")),
                ),
                "delete": _operation(
                    "Delete an extension; the phones it is logged into are logged out", {204: ("Deleted", None)}, (404,)
                ),
            },
            "/extensions/{number}/user-password": {
                "parameters": [NUMBER],
                "get": _operation(
                    "The user account's LOGIN, and its generated password until the user changes it",
                    {200: (ok, _json(_ref("UserPassword")))},
                    (404,),
                ),
                "post": _operation(
                    "Set the user account's password, or generate one (answered once here); the user's portal"
                    " sessions end",
                    {200: (ok, _json(_ref("UserPassword")))},
                    (404, 415, 422),
                    body=_json(_ref("NewUserPassword")),
                    body_required=False,
                ),
            },
            "/extensions/{number}/qr": {
                "parameters": [NUMBER],
                "get": _operation(
                    "The URL the user's softphone QR code holds (single use, expiring: qr_token_minutes); made if"
                    " none is usable",
                    {200: (ok, _json(_ref("SignInUrl")))},
                    (404, 422),
                ),
                "post": _operation(
                    "Refresh the user's QR code: a new URL, every earlier one dead at once",
                    {200: (ok, _json(_ref("SignInUrl")))},
                    (404, 422),
                ),
            },
            "/extensions/{number}/apps": {
                "parameters": [NUMBER],
                "get": _operation(
                    "The softphone apps signed in to the user's account, revoked ones too, the oldest first",
                    {200: (ok, _json(_ref("AppList")))},
                    (404,),
                ),
            },
            "/extensions/{number}/apps/{app_id}/revoke": {
                "parameters": [NUMBER, _path("app_id", {"type": "integer", "minimum": 1})],
                "post": _operation(
                    "Revoke an app: at its next start it is given a configuration without the account",
                    {200: (ok, _json(_ref("App")))},
                    (404,),
                ),
            },
            "/extensions/import": {
                "post": _operation(
                    "Import a CSV (extension,name,secret[,voicemail_pin,email,auth_name,template,username,"
                    "user_password]), all or nothing; an extension without a user account gets one",
                    {
                        200: ("Imported, or with dry_run what would be", _json(_ref("ImportResult"))),
                        422: ("Refused: every bad row in `errors`, nothing written", _json(_ref("ImportResult"))),
                    },
                    (400, 415),
                    params=(_query("dry_run", {"type": "string", "enum": ["true", "false"]}, "only report"),),
                    body=CSV,
                )
            },
            "/extensions/export": {
                "get": _operation(
                    "Every extension as CSV, as the import reads it (secrets included)", {200: (ok, CSV)}, ()
                )
            },
            "/extensions/weak-secrets": {
                "get": _operation(
                    "Extensions whose SIP secret breaks the strong secret policy (imported from a PBX), and why",
                    {200: (ok, _json(_ref("WeakList")))},
                    (),
                )
            },
            "/extensions/weak-pins": {
                "get": _operation(
                    "Extensions whose voicemail PIN is outside pin_length or trivial to guess, and why (the reason can"
                    " give the PIN away: the secrets scope)",
                    {200: (ok, _json(_ref("WeakList")))},
                    (),
                )
            },
            "/secrets/generate": {
                "get": _operation(
                    "A new random SIP secret that meets the strong secret policy (not stored: use it in a create"
                    " or change)",
                    {200: (ok, _json(_ref("GeneratedSecret")))},
                    (),
                )
            },
            "/templates": {
                "get": _operation(
                    "Provisioning templates",
                    {200: (ok, _json(_ref("TemplateList")))},
                    (),
                    params=(_query("brand", STRING),),
                )
            },
            "/templates/{brand}/{name}": {
                "parameters": [BRAND, NAME],
                "get": _operation("A template with its body", {200: (ok, _json(_ref("TemplateWithBody")))}, (404,)),
                "put": _operation(
                    "Create or replace a template, once it renders for a sample guest and user phone",
                    {
                        200: ("Replaced", _json(_ref("TemplateWithBody"))),
                        201: ("Created", _json(_ref("TemplateWithBody"))),
                    },
                    (400, 404, 415, 422),
                    body=_json(_ref("TemplateBody")),
                ),
                "delete": _operation("Delete a template that is not the default", {204: ("Deleted", None)}, (404, 409)),
            },
            "/templates/{brand}/{name}/default": {
                "parameters": [BRAND, NAME],
                "post": _operation(
                    "Make it its brand's default (exactly one per brand)", {200: (ok, _json(_ref("Template")))}, (404,)
                ),
            },
            "/pins": {
                "get": _operation(
                    "Extensions pinned to templates",
                    {200: (ok, _json(_ref("PinList")))},
                    (),
                    params=(_query("extension", STRING),),
                )
            },
            "/pins/{number}/{brand}": {
                "parameters": [NUMBER, BRAND],
                "put": _operation(
                    "Pin the extension to a template of the brand",
                    {200: (ok, _json(_ref("Pin")))},
                    (400, 404, 415, 422),
                    body=_json(_ref("PinBody")),
                ),
                "delete": _operation("Unpin: back to the brand's default", {204: ("Unpinned", None)}, (404,)),
            },
            "/mappings": {
                "get": _operation(
                    "Who is logged in where, latest logins first",
                    {200: (ok, _json(_ref("SeatList")))},
                    (400, 422),
                    params=(_query("search", STRING, "extension or MAC prefix"), _limit(phones.LIVE_LIMIT)),
                )
            },
            "/devices": {
                "get": _operation(
                    "Phones that fetched their files (or an admin added), by MAC",
                    {200: (ok, _json(_ref("DevicePage")))},
                    (400, 422),
                    params=(
                        _query("search", STRING, "MAC prefix"),
                        _query("after", STRING),
                        _limit(MAX_PAGE_SIZE),
                        _query("waiting", {"type": "string", "enum": ["true", "false"]}, "only phones to admit"),
                    ),
                ),
                "post": _operation(
                    "Add a MAC: admitted before its phone fetches (the only way in under device_admission = known)",
                    {201: ("Added", _json(_ref("Device")))},
                    (409, 415, 422),
                    body=_json(_ref("NewDevice")),
                ),
            },
            "/sync/asterisk": {
                "post": _operation(
                    "Make the tenant's extensions what Asterisk's pjsip files (asterisk_config_dir) define: added,"
                    " changed, removed; synced extensions are the PBX's and refused to edits. A line Asterisk"
                    " would refuse: 422 naming file and line, nothing changed",
                    {200: ("Synced, or with dry_run what would be", _json(_ref("SyncResult")))},
                    (422,),
                    params=(_query("dry_run", {"type": "string", "enum": ["true", "false"]}, "only report"),),
                )
            },
            "/devices/import": {
                "post": _operation(
                    "Import a CSV of MACs (mac[,address], optional header line), all or nothing: new ones are added,"
                    " waiting ones admitted",
                    {
                        200: ("Imported, or with dry_run what would be", _json(_ref("DeviceImportResult"))),
                        422: (
                            "Refused: every bad line in `errors`, nothing written",
                            _json(_ref("DeviceImportResult")),
                        ),
                    },
                    (400, 415),
                    params=(_query("dry_run", {"type": "string", "enum": ["true", "false"]}, "only report"),),
                    body=CSV,
                )
            },
            "/devices/admit-waiting": {
                "post": _operation(
                    "Admit every waiting phone, each at the address it was seen at",
                    {200: (ok, _json(_ref("DeviceList")))},
                    (),
                )
            },
            "/devices/{mac}/admit": {
                "parameters": [MAC],
                "post": _operation(
                    "Admit a phone: logins allowed, its own credentials to its next fetch from `address`"
                    " (default: the address it was seen at); the body is optional",
                    {200: (ok, _json(_ref("Device")))},
                    (404, 409, 415, 422),
                    body=_json(_ref("Admission")),
                    body_required=False,
                ),
            },
            "/devices/{mac}": {
                "parameters": [MAC],
                "get": _operation("One phone", {200: (ok, _json(_ref("Device")))}, (404, 422)),
            },
            "/devices/{mac}/logout": {
                "parameters": [MAC],
                "post": _operation(
                    "Log the phone out and tell it by SIP NOTIFY", {200: (ok, _json(_ref("LogoutResult")))}, (404, 422)
                ),
            },
            "/devices/{mac}/reset-credentials": {
                "parameters": [MAC],
                "post": _operation(
                    "Withdraw the phone's own provisioning credentials (new ones at its next fetch)",
                    {200: (ok, _json(_ref("Device")))},
                    (404, 422),
                ),
            },
            "/devices/{mac}/login": {
                "parameters": [MAC],
                "post": _operation(
                    "Log an extension in on the phone without its PIN (multiple_login applies; the phones are told)",
                    {200: (ok, _json(_ref("AdminLoginResult")))},
                    (404, 409, 415, 422),
                    body=_json(_ref("AdminLoginBody")),
                ),
            },
            "/devices/{mac}/unlock": {
                "parameters": [MAC],
                "post": _operation(
                    "Lift the phone's failed-login lockout", {200: (ok, _json(_ref("UnlockResult")))}, (404, 422)
                ),
            },
            "/extensions/{number}/unlock": {
                "parameters": [NUMBER],
                "post": _operation(
                    "Lift the extension's failed-login lockout, on every phone",
                    {200: (ok, _json(_ref("UnlockResult")))},
                    (404, 422),
                ),
            },
            "/lockouts": {
                "get": _operation(
                    "Extensions and phones locked out by failed logins now, the longest first",
                    {200: (ok, _json(_ref("LockoutList")))},
                    (),
                )
            },
            "/mail": {
                "get": _operation(
                    "The tenant's mails (account mails, test mails), the newest first, and how each went",
                    {200: (ok, _json(_ref("MailList")))},
                    (),
                    params=(_limit(1000),),
                )
            },
            "/mail/{mail_id}/retry": {
                "parameters": [_path("mail_id", {"type": "string", "pattern": "^[0-9]{1,9}$"})],
                "post": _operation(
                    "Send a mail that failed (or waits for its next attempt) again, within seconds",
                    {200: (ok, _json(_ref("Mail")))},
                    (404, 409),
                ),
            },
            "/mail/test": {
                "post": _operation(
                    "Queue a test mail through the tenant's SMTP settings; its outcome shows in GET /mail",
                    {202: ("Queued", _json(_ref("Mail")))},
                    (400, 415, 422),
                    body=_json(_ref("TestMail")),
                ),
            },
            "/settings": {
                "get": _operation("Runtime settings (secrets: value null)", {200: (ok, _json(_ref("SettingList")))}, ())
            },
            "/settings/{name}": {
                "parameters": [NAME],
                "get": _operation(
                    "One setting, with its value; a secret one needs the secrets scope",
                    {200: (ok, _json(_ref("Setting")))},
                    (404,),
                ),
                "put": _operation(
                    "Change a setting (the tenant's own value; the installation's for the default tenant)",
                    {200: ("Changed", _json(_ref("Setting")))},
                    (400, 404, 415, 422),
                    body=_json(_ref("SettingValue")),
                ),
                "delete": _operation(
                    "The tenant's own value goes: it takes the installation's again (not for the default tenant)",
                    {204: ("Unset", None)},
                    (404, 422),
                ),
            },
            "/history": {
                "get": _operation(
                    "History, newest first",
                    {200: (ok, _json(_ref("EventPage")))},
                    (400, 422),
                    params=(
                        *HISTORY_FILTERS,
                        _query("before", {"type": "string", "pattern": "^[0-9]+$"}),
                        _limit(MAX_PAGE_SIZE),
                    ),
                )
            },
            "/occupancy": {
                "get": _operation(
                    "How the desks were used: per day, per hour of the day, per phone, per extension",
                    {200: (ok, _json(_ref("Occupancy")))},
                    (422,),
                    params=(
                        _query(
                            "since", {"type": "string", "format": "date"}, "YYYY-MM-DD (default: 6 days before until)"
                        ),
                        _query(
                            "until",
                            {"type": "string", "format": "date"},
                            "YYYY-MM-DD, through that day (default: today)",
                        ),
                    ),
                )
            },
            "/history/export": {
                "get": _operation("History as CSV, oldest first", {200: (ok, CSV)}, (422,), params=HISTORY_FILTERS)
            },
            "/tenants": {
                "get": _operation(
                    "Tenants with their extension counts (system tokens; a tenant's token: 403)",
                    {200: (ok, _json(_ref("TenantList")))},
                    (),
                ),
                "post": _operation(
                    "Add a tenant; the answer carries its provisioning credentials, once",
                    {201: ("Created", _json(_ref("MadeTenant")))},
                    (400, 415, 422),
                    body=_json(_ref("NewTenant")),
                ),
            },
            "/tenants/{name}": {
                "parameters": [NAME],
                "delete": _operation(
                    "Remove a tenant, with its phones, templates and settings; refused while it has extensions",
                    {204: ("Removed", None)},
                    (404, 409),
                ),
            },
        },
    }


@cache
def query_parameters(rule: str, method: str) -> frozenset[str]:
    """The query parameters the document gives the operation a Flask URL rule serves: no others are accepted."""
    path = rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
    operation = document()["paths"].get(path, {}).get("get" if method == "HEAD" else method.lower(), {})
    return frozenset(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")


@cache
def required_scopes(rule: str, method: str) -> tuple[str, ...]:
    """The token scopes the document says the operation a Flask URL rule serves needs (an
    operation it does not describe, such as OPTIONS: read for what changes nothing, else write)."""
    path = rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
    operation = document()["paths"].get(path, {}).get("get" if method == "HEAD" else method.lower(), {})
    fallback = ["read" if method in ("GET", "HEAD", "OPTIONS") else "write"]
    return tuple(operation.get("security", [{"bearer": fallback}])[0]["bearer"])
