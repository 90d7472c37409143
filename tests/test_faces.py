"""The three faces — CLI, console, API — reach the same admin functions (hotdesk/admin/), and
README.md's table "What each face can do" names every command and route.

Walked, not listed by hand: a new function in hotdesk/admin/ fails here until every face calls it,
or it is written down below as a building block or as a deliberate exception, with the reason.
"""

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from lxml import html
from sqlalchemy import select

import hotdesk.admin
from hotdesk.admin import accounts
from hotdesk.cli import main
from hotdesk.models import Device, Event, Extension, Setting, Template
from tests.phones import YealinkPhone
from tests.test_console import PASSWORD, Console, rows, text

PACKAGE = Path(hotdesk.admin.__file__).parent.parent
FACES = {  # each face's modules
    "cli": sorted((PACKAGE / "cli").glob("*.py")),
    "console": sorted((PACKAGE / "web" / "admin").glob("*.py")),
    "api": [PACKAGE / "web" / "api.py"],
}
README = PACKAGE.parent / "README.md"

# Used by the operations, not operations an admin asks for.
BUILDING_BLOCKS = {
    "in_chunks": "reads an export in chunks",
    "page_size": "checks a page size",
    "paged": "cuts a page",
    "record_change": "writes an admin change to the history",
    "accounts.check_password": "a rule add_admin and set_password apply",
    "accounts.check_scopes": "a rule create_token applies",
    "accounts.check_sign_in": "a rule add_admin and set_sign_in apply (the CLI's before the password prompt)",
    "extensions.data_of": "what update compares",
    "history.parse_moment": "a rule Filters.parse applies",
    "phones.check_address": "a rule admit, add_known and import_known apply",
    "phones.contested": "a rule admit, admit_all_waiting and import_known apply",
    "templates.brand_of": "a rule save applies",
    "templates.check": "what save checks",
    "templates.sample_contexts": "what check renders",
    "templates.find": "get without NotFound: the API's PUT answers 201 or 200 by it",
    "settings.check_manager_may_change": "a rule change and unset apply (the console checks a whole form first)",
    "templates.defaults": "what `templates list --tenant` marks (default); console and API read is_default",
    "users.open_account": "what extensions.create opens with the extension",
    "users.check_import_rows": "what extensions.preview_import checks of the username and user_password columns",
    "users.open_imported_accounts": "what extensions.import_csv opens",
    "occupancy.catch_up": "what occupancy.report sums up first",
}

ADMINS_AND_TOKENS = (
    "the API manages neither admins nor tokens: a token that could mint tokens, or add an admin, would be a "
    "way up from any write token to every scope and the console"
)
SIGNING_IN = "how a face proves who is asking: the console's sign-in and session, the API's bearer token"
DASHBOARD = "figures and lists of console pages; the CLI and API give the same facts through devices_page and listings"

# Operations some face lacks on purpose: the faces that lack them, and why.
EXCEPTIONS = {
    "phones.hand_over": (
        {"console", "api"},
        "the operator's, across tenants: the console and API act for one tenant (hotdesk devices hand-over)",
    ),
    "accounts.admins": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.add_admin": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.set_password": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.set_sign_in": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.remove_admin": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.check_name": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.tokens": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.create_token": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.parse_expiry": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.revoke_token": ({"api"}, ADMINS_AND_TOKENS),
    "accounts.any_admin": ({"cli", "api"}, SIGNING_IN + " (the sign-in page says how to add the first admin)"),
    "accounts.sign_in": ({"cli", "api"}, SIGNING_IN),
    "accounts.sign_in_with_code": ({"cli", "api"}, SIGNING_IN + " (an admin's access code, after the password)"),
    "accounts.resend_code": ({"cli", "api"}, SIGNING_IN + " (Resend code on the access code page)"),
    "accounts.session_key": ({"cli", "api"}, SIGNING_IN),
    "accounts.end_sessions": ({"cli", "api"}, SIGNING_IN + " (sign out ends the console's sessions)"),
    "accounts.token_named_by": ({"cli", "console"}, SIGNING_IN),
    "accounts.token_scopes": ({"cli", "console"}, SIGNING_IN),
    "extensions.count": ({"cli", "api"}, DASHBOARD),
    "phones.logged_in_count": ({"cli", "api"}, DASHBOARD),
    "phones.live_marker": ({"cli", "api"}, "the console's live table asks it whether anything changed"),
    "phones.waiting": ({"cli", "api"}, DASHBOARD),
    "phones.waiting_count": ({"cli", "api"}, DASHBOARD),
    # A person's account is named by its LOGIN on the command line, by its extension in the console and API.
    "users.by_login": ({"console", "api"}, "the console and API name an account by its extension"),
    "users.of_extension": ({"cli"}, "the CLI names an account by its LOGIN (users set-password)"),
    "users.listing": (
        {"console", "api"},
        "the extensions list carries each account's username and must-change flag (Extensions, GET /extensions)",
    ),
    "occupancy.to_csv": ({"api"}, "the API answers the same report as JSON (GET /occupancy)"),
    "phones.tenant_of": (
        {"console", "api"},
        "the command line (the operator's) finds a phone in any tenant; the console and API act for one",
    ),
}


def admin_functions() -> set[str]:
    """Every public function of hotdesk/admin/, as module.name (the package's own: bare name)."""
    modules = {"": hotdesk.admin}
    for info in pkgutil.iter_modules(hotdesk.admin.__path__):
        modules[info.name] = importlib.import_module(f"hotdesk.admin.{info.name}")
    return {
        f"{short}.{name}".lstrip(".")
        for short, module in modules.items()
        for name, value in vars(module).items()
        if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == module.__name__
    }


def reached(paths: list[Path]) -> set[str]:
    """The admin functions a face's modules name: `module.function` after `from hotdesk.admin import
    module [as alias]`, or a function imported by name."""
    return set().union(*(reached_from(path) for path in paths))


def reached_from(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    aliases, found = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hotdesk.admin"):
            module = node.module.removeprefix("hotdesk.admin").lstrip(".")
            for alias in node.names:
                if not module and (PACKAGE / "admin" / f"{alias.name}.py").exists():
                    aliases[alias.asname or alias.name] = alias.name
                else:
                    found.add(f"{module}.{alias.name}".lstrip("."))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.add(f"{aliases[node.value.id]}.{node.attr}")
    return found


def test_every_admin_function_is_reached_from_every_face_or_is_a_written_exception():
    functions = admin_functions()
    faces = {face: reached(path) for face, path in FACES.items()}
    missing = {
        function: {face for face, names in faces.items() if function not in names}
        for function in sorted(functions - set(BUILDING_BLOCKS))
    }
    expected = {function: EXCEPTIONS.get(function, (set(), ""))[0] for function in missing}
    assert missing == expected
    assert set(BUILDING_BLOCKS) <= functions, "a building block listed here no longer exists"
    assert set(EXCEPTIONS) <= functions, "an exception listed here no longer exists"


def test_the_faces_query_the_database_only_through_the_admin_functions():
    for face, path in ((face, path) for face, paths in FACES.items() for path in paths):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy":
                names = {alias.name for alias in node.names}
                assert not names & {"select", "update", "delete", "insert"}, f"{face} builds its own queries"


def cli_commands(group: click.Group = main, prefix: str = "hotdesk") -> list[str]:
    commands = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                commands.append(f"{prefix} {name}")
            commands.extend(cli_commands(command, f"{prefix} {name}"))
        else:
            commands.append(f"{prefix} {name}")
    return commands


def face_table() -> str:
    text = README.read_text()
    start = text.index("## What each face can do")
    return text[start : text.index("\n## ", start + 1)]


@pytest.mark.parametrize("command", cli_commands())
def test_every_command_is_in_the_readme_table(command):
    assert f"`{command}" in face_table()


def test_every_api_route_is_in_the_readme_table(app):
    table = face_table()
    routes = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    absent = sorted(f"{method} {path}" for method, path in routes if f"`{method} {path}`" not in table)
    assert not absent


# What the faces lacked before, through each face's real path.


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in tests/test_console.py: each request its own `g` (and CSRF token), as a real server gives."""


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    return run


def token(session, *scopes):
    made = accounts.create_token(session, f"faces-{'-'.join(scopes)}", "test", scopes=scopes).secret
    session.commit()
    return {"Authorization": f"Bearer {made}"}


@pytest.fixture
def console(client, session):
    accounts.add_admin(session, "ann", PASSWORD, "test")
    session.commit()
    console = Console(client)
    assert console.sign_in().status_code == 302
    return console


def devices(session) -> dict[str, Device]:
    session.expire_all()
    return {device.mac: device for device in session.scalars(select(Device))}


MACS = "mac,address\n001565000041,10.0.0.41\n00-15-65-00-00-42,\n"


def test_devices_import_through_the_api_all_or_nothing(client, session):
    headers = token(session, "read", "write")
    bad = "mac,address\n001565000041,10.0.0.41\n00156500004x,\n001565000043,10.0.0.999\n001565000041,\n"
    refused = client.post("/api/v1/devices/import", data=bad, content_type="text/csv", headers=headers)
    assert refused.status_code == 422 and refused.is_json
    assert refused.json["error"].startswith("upload, line 3, mac:")
    assert [error.split(",")[1].strip() for error in refused.json["errors"]] == ["line 3", "line 4", "line 5"]
    assert devices(session) == {}

    dry = client.post("/api/v1/devices/import?dry_run=true", data=MACS, content_type="text/csv", headers=headers)
    assert dry.json == {
        "dry_run": True,
        "errors": [],
        "rows": [
            {"line": 2, "mac": "001565000041", "address": "10.0.0.41", "action": "add"},
            {"line": 3, "mac": "001565000042", "address": None, "action": "add"},
        ],
    }
    assert devices(session) == {}
    done = client.post("/api/v1/devices/import", data=MACS, content_type="text/csv", headers=headers)
    assert done.status_code == 200 and done.json["dry_run"] is False
    known = devices(session)
    assert sorted(known) == ["001565000041", "001565000042"] and all(d.admitted for d in known.values())
    assert known["001565000041"].admitted_address == "10.0.0.41"
    again = client.post("/api/v1/devices/import", data=MACS, content_type="text/csv", headers=headers)
    assert [row["action"] for row in again.json["rows"]] == ["keep", "keep"]

    wrong_type = client.post("/api/v1/devices/import", data=MACS, content_type="text/plain", headers=headers)
    assert wrong_type.status_code == 415 and wrong_type.is_json
    read_only = client.post(
        "/api/v1/devices/import", data=MACS, content_type="text/csv", headers=token(session, "read")
    )
    assert read_only.status_code == 403


def test_devices_import_on_the_phones_page_previews_then_confirms(console, session):
    page = console.page("/admin/devices")
    assert page.xpath("//a[@href='/admin/devices/import']")
    form = console.page("/admin/devices/import")
    bad = b"mac\n001565000041\nnot-a-mac\n"
    preview = console.upload("/admin/devices/import", "macs.csv", bad, form)
    assert preview.status_code == 422
    errors = html.fromstring(preview.data).xpath("//*[@id='import-errors']//li/text()")
    assert [error.split(", mac")[0] for error in errors] == ["macs.csv, line 3"]
    assert not html.fromstring(preview.data).xpath("//input[@name='confirm']")

    preview = console.upload("/admin/devices/import", "macs.csv", MACS.encode(), form)
    assert preview.status_code == 200 and "Add or admit 2 phone(s)" in text(preview)
    assert rows(preview, "import-rows")[0] == ["2", "001565000041", "10.0.0.41", "add"]
    assert devices(session) == {}
    assert console.confirm("/admin/devices/import", preview).status_code == 302
    assert sorted(devices(session)) == ["001565000041", "001565000042"]
    assert "2 phone(s) added or admitted" in text(console.get("/admin/devices"))
    [event] = session.scalars(select(Event).where(Event.detail.startswith("devices imported")))
    assert (event.actor, event.detail) == ("ann", "devices imported from macs.csv: 2 added or admitted")


def test_devices_import_dry_run_from_the_command_line(run, session, tmp_path):
    path = tmp_path / "macs.csv"
    path.write_text(MACS)
    dry = run("devices", "import", path, "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.splitlines() == ["line 2\t001565000041\t10.0.0.41\tadd", "line 3\t001565000042\tany address\tadd"]
    assert devices(session) == {}
    path.write_text("mac\nnope\n00156500004\n")
    bad = run("devices", "import", path, "--dry-run")
    assert bad.exit_code == 1 and len(bad.stderr.splitlines()) == 2 and "line 2, mac" in bad.stderr


WEAK = [("2001", "one digit repeated"), ("2003", "the extension number")]


@pytest.fixture
def pins(session):
    session.add_all(
        [
            Extension(number="2001", name="A", secret="s", voicemail_pin="1111"),
            Extension(number="2002", name="B", secret="s", voicemail_pin="4817"),
            Extension(number="2003", name="C", secret="s", voicemail_pin="2003"),
            Extension(number="2004", name="D", secret="s"),
        ]
    )
    session.commit()


def test_weak_pins_need_the_secrets_scope_in_the_api(client, session, pins):
    refused = client.get("/api/v1/extensions/weak-pins", headers=token(session, "read", "write"))
    assert refused.status_code == 403 and "secrets" in refused.json["error"]
    listed = client.get("/api/v1/extensions/weak-pins", headers=token(session, "secrets"))
    assert listed.json == {"items": [{"extension": number, "reason": reason} for number, reason in WEAK]}


def test_templates_show_prints_the_body_as_import_reads_it(run, session, tmp_path):
    stock = session.scalar(select(Template).where(Template.brand == "yealink", Template.is_default)).body
    shown = run("templates", "show", "yealink", "default")
    assert shown.exit_code == 0 and shown.stdout == stock
    path = tmp_path / "lobby.cfg"
    path.write_text(shown.stdout.replace("External", "Outside"))
    assert run("templates", "import", path, "--brand", "yealink", "--name", "lobby").exit_code == 0
    assert "Outside" in run("templates", "show", "yealink", "lobby").stdout
    missing = run("templates", "show", "yealink", "nope")
    assert missing.exit_code == 1 and missing.stderr == "Error: no template yealink/nope\n"
    assert run("templates", "list", "--brand", "yealink").stdout == "yealink/default  (default)\nyealink/lobby\n"


def test_history_lists_the_latest_first_filtered_and_paged(run, session, pins):
    for number in ("2001", "2002", "2003"):
        assert run("unlock", number).exit_code == 0
    latest = run("history", "--kind", "unlock", "--limit", "2")
    assert latest.exit_code == 0
    lines = [line.split("\t") for line in latest.stdout.splitlines()]
    assert [(line[2], line[3], line[10]) for line in lines] == [("unlock", "2003", "cli"), ("unlock", "2002", "cli")]
    cursor = latest.stderr.strip().removeprefix("more: --before ")
    assert cursor == lines[-1][0]
    older = run("history", "--kind", "unlock", "--limit", "2", "--before", cursor)
    assert [line.split("\t")[3] for line in older.stdout.splitlines()] == ["2001"] and older.stderr == ""
    assert [line.split("\t")[3] for line in run("history", "--extension", "2002").stdout.splitlines()] == ["2002"]

    bad = run("history", "--since", "yesterday")
    assert bad.exit_code == 1 and len(bad.stderr.splitlines()) == 1 and "since:" in bad.stderr
    misplaced = run("history", "--kind", "unlock", "export")
    assert misplaced.exit_code == 2 and "after `export`" in misplaced.stderr
    assert run("history", "export", "--kind", "unlock").stdout.count("\n") == 4  # header and three events


def test_show_commands_and_searches(run, session, pins, client):
    phone = YealinkPhone(client, "001565000051")
    phone.boot()
    shown = run("extensions", "show", "2001")
    assert shown.stdout.splitlines() == [
        "extension\t2001",
        "name\tA",
        "auth_name\t",
        "email\t",
        "voicemail_pin\tset",
        "source\thotdesk",
    ]
    assert "1111" not in shown.stdout and "secret" not in shown.stdout
    assert run("extensions", "show", "9999").stderr == "Error: no extension 9999\n"
    assert [line.split("\t")[0] for line in run("extensions", "list", "--search", "200").stdout.splitlines()] == [
        "2001",
        "2002",
        "2003",
        "2004",
    ]
    assert run("extensions", "list", "--search", "C").stdout.startswith("2003\tC\t")
    device = run("devices", "show", "00:15:65:00:00:51")
    assert device.exit_code == 0 and device.stdout.startswith("001565000051\tyealink\t")
    assert run("devices", "list", "--search", "0015650000").stdout == device.stdout
    assert run("devices", "list", "--search", "0015659").stdout == ""
    assert run("devices", "show", "001565000099").exit_code == 1


def test_a_secret_setting_is_shown_on_the_console_only_when_asked(console, session):
    password = session.scalar(select(Setting.value).where(Setting.name == "provisioning_password"))
    page = console.get("/admin/settings")
    assert password.encode() not in page.data
    form = html.fromstring(page.data)
    [show] = form.xpath("//form[@id='show-provisioning_password']")
    answer = console.post(show.get("action"), token_from=form)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    shown = html.fromstring(answer.data).xpath("//output[@for='provisioning_password']/text()")
    assert shown == [password]
    assert password.encode() not in console.get("/admin/settings").data
    assert console.post("/admin/settings/colour/show", token_from=form).status_code == 404
    assert console.post(show.get("action")).status_code == 400  # no CSRF token: nothing shown


def test_the_access_page_marks_expired_tokens(console, session):
    made = accounts.create_token(session, "old", "test")
    made.token.expires_at = made.token.created_at  # as a token looks once its day has passed
    session.commit()
    [row] = rows(console.get("/admin/access"), "token-list")
    assert row[0] == "old" and row[3].startswith("expired ")


def test_extensions_set_changes_only_the_fields_given(run, session, pins):
    def extension():
        session.expire_all()
        return session.scalar(select(Extension).where(Extension.number == "2001"))

    assert run("extensions", "set", "2001", "--name", "Alice", "--email", "a@example.com").exit_code == 0
    assert (extension().name, extension().secret, extension().voicemail_pin) == ("Alice", "s", "1111")
    assert run("extensions", "set", "2001", "--no-pin", "--email", "").stdout == "extension 2001 changed\n"
    assert (extension().voicemail_pin, extension().email, extension().name) == (None, None, "Alice")

    bad = run("extensions", "set", "2001", "--pin", "12ab", "--name", "Changed")
    assert bad.exit_code == 1 and len(bad.stderr.splitlines()) == 1 and "voicemail_pin" in bad.stderr
    assert extension().name == "Alice"
    assert run("extensions", "set", "9999", "--name", "X").stderr == "Error: no extension 9999\n"
    assert run("extensions", "set", "2001", "--pin", "4817", "--no-pin").exit_code == 2
    assert run("extensions", "set", "2001").exit_code == 2
    [event] = session.scalars(select(Event).where(Event.detail.like("extension 2001 changed: %")).limit(1))
    assert event.actor == "cli"


def test_settings_get_and_pins_of_one_extension_from_the_command_line(run, session, pins):
    assert run("settings", "get", "colour").stderr == "Error: no setting 'colour'\n"
    assert run("mappings", "pin", "2001", "yealink/default").exit_code == 0
    assert run("mappings", "pin", "2002", "yealink/default").exit_code == 0
    assert run("mappings", "pins", "--extension", "2002").stdout == "2002\tyealink/default\n"
