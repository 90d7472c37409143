"""People's user accounts from the command line, as an operator meets them: every extension has one
(a username that names the person, an account password that is not the SIP secret), a generated
password is printed once and must be changed at the first sign-in, and nothing ever writes a
password or its hash anywhere else (history, exports, listings)."""

import csv
import io
import os
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk import people
from hotdesk.cli import main
from hotdesk.models import Event, EventKind, Extension, Tenant, User

SECRET = "Str0ng-Secret"


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(*args, code=0, input=None):
        result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def add(run, number, name, *extra, tenant=None):
    args = ["extensions", "add", number, "--name", name, "--secret", f"{number}-{SECRET}", *extra]
    return run(*args, *(("--tenant", tenant) if tenant else ()))


def user_password(output: str) -> str:
    found = re.findall(r"^user password: (\S+)$", output, re.MULTILINE)
    assert len(found) == 1, output
    return found[0]


def user(session, username, tenant_id=1) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.tenant_id == tenant_id, User.username == username))


def admin_details(session) -> list[str]:
    session.expire_all()
    return [e.detail for e in session.scalars(select(Event).where(Event.kind == EventKind.ADMIN.value))]


@pytest.fixture
def acme(run, session):
    run("tenants", "add", "acme", "--sip-domain", "acme.example.com")
    return session.scalar(select(Tenant.id).where(Tenant.name == "acme"))


def test_extensions_add_opens_an_account_named_after_the_person_with_a_password_shown_once(run, session):
    output = add(run, "1001", "Alice Martin")
    password = user_password(output)
    assert output.splitlines() == ["extension 1001 saved", f"user password: {password}"]
    alice = user(session, "alice.martin")
    assert alice.extension.number == "1001" and alice.must_change_password
    assert people.verify(alice, password) and not people.verify(alice, "1001-" + SECRET)
    assert people.find(session, "Alice.Martin") is alice  # the bare username in the default tenant, any case

    # A namesake gets the next free username; --username names it outright.
    assert user(session, "alice.martin.2") is None
    add(run, "1002", "Alice Martin")
    assert user(session, "alice.martin.2").extension.number == "1002"
    add(run, "1003", "Bob", "--username", "Robert_Smith", "--cell", "+49 170 1234567")
    bob = user(session, "robert_smith")
    assert (bob.extension.number, bob.cell) == ("1003", "+49 170 1234567")

    assert run("users", "list") == (
        "alice.martin\t1001\tmust_change_password=yes\n"
        "alice.martin.2\t1002\tmust_change_password=yes\n"
        "robert_smith\t1003\tmust_change_password=yes\n"
    )


def test_updating_an_extension_keeps_its_account_and_shows_no_password_again(run, session):
    add(run, "1001", "Alice Martin")
    output = add(run, "1001", "Alice Martin-Smith")
    assert output == "extension 1001 saved\n"
    assert user(session, "alice.martin").extension.name == "Alice Martin-Smith"
    # --username on an existing extension renames its account.
    assert add(run, "1001", "Alice Martin-Smith", "--username", "alice") == "extension 1001 saved\n"
    assert user(session, "alice") is not None and user(session, "alice.martin") is None


def test_an_extension_from_before_accounts_gets_one_when_saved(run, session):
    session.add(Extension(number="1001", name="Old Timer", secret="s"))
    session.commit()
    password = user_password(add(run, "1001", "Old Timer"))
    assert people.verify(user(session, "old.timer"), password)


@pytest.mark.parametrize(
    "args, message",
    [
        (("--username", "1001x"), "is not a username"),
        (("--username", "taken.name"), "'taken.name' is taken in this tenant"),
        (("--username", "a b"), "is not a username"),
        (("--cell", "call me"), "is not a phone number"),
    ],
)
def test_a_bad_username_gets_one_line_and_adds_nothing(run, session, args, message):
    add(run, "1000", "Someone", "--username", "taken.name")
    output = run("extensions", "add", "1001", "--name", "Alice", "--secret", SECRET, *args, code=1)
    assert message in output and len(output.strip().splitlines()) == 1, output
    session.expire_all()
    assert session.scalar(select(Extension).where(Extension.number == "1001")) is None


def test_a_username_is_unique_within_its_tenant_only(run, session, acme):
    add(run, "1001", "Alice Martin")
    add(run, "1001", "Alice Martin", tenant="acme")
    assert user(session, "alice.martin", acme).extension.tenant_id == acme
    assert run("users", "list", "--tenant", "acme") == "alice.martin\t1001\tmust_change_password=yes\n"


def test_set_password_by_login_from_stdin_or_generated(run, session, acme):
    add(run, "1001", "Alice Martin", tenant="acme")
    add(run, "1001", "Alice Martin")  # the default tenant's namesake: a bare LOGIN names her
    chosen = "correct horse battery"
    output = run("users", "set-password", "alice.martin@acme.example.com", "--password-stdin", input=chosen + "\n")
    assert output == "password of alice.martin@acme.example.com set\n"
    alice = user(session, "alice.martin", acme)
    assert people.verify(alice, chosen) and not alice.must_change_password
    assert alice.password_hash.startswith("$argon2id$") and people.pending_password(alice) is None
    assert people.pending_password(user(session, "alice.martin")) is not None  # the other Alice untouched

    run("users", "set-password", "alice.martin@acme.example.com", "--password-stdin", "--temporary", input=chosen)
    assert user(session, "alice.martin", acme).must_change_password

    output = run("users", "set-password", "alice.martin")
    generated = user_password(output)
    default_alice = user(session, "alice.martin")
    assert people.verify(default_alice, generated) and default_alice.must_change_password
    assert people.pending_password(default_alice) == generated

    details = admin_details(session)
    assert "password of user alice.martin set" in details
    assert "password of user alice.martin set (to be changed at the next sign-in)" in details
    assert "password of user alice.martin generated (to be changed at the next sign-in)" in details
    assert not any(chosen in d or generated in d for d in details)
    events = session.scalars(select(Event).where(Event.detail.like("password of user%")))
    assert sorted(e.tenant_id for e in events) == [1, acme, acme]


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (("alice.martin", "--password-stdin"), f"1001-{SECRET}\n", "must not be the extension's SIP secret"),
        (("alice.martin", "--password-stdin"), "short\n", "needs at least 10 printable characters"),
        (("alice.martin", "--password-stdin"), "4711\n", "needs at least 10"),
        (("alice.martin", "--password-stdin"), "\n", "no password on standard input"),
        (("nobody",), None, "no user 'nobody'"),
        (("alice.martin@nowhere.example.com",), None, "no user"),
    ],
)
def test_bad_set_password_gets_one_line_and_changes_nothing(run, session, args, stdin, message):
    add(run, "1001", "Alice Martin", "--pin", "4711")
    before = user(session, "alice.martin").initial_password
    output = run("users", "set-password", *args, input=stdin, code=1)
    assert message in output and len(output.strip().splitlines()) == 1, output
    assert user(session, "alice.martin").initial_password == before


def test_the_generated_password_is_visible_until_the_person_changes_it(run, session):
    generated = user_password(add(run, "1001", "Alice Martin"))
    alice = user(session, "alice.martin")
    assert people.pending_password(alice) == generated
    people.change_own_password(session, alice, generated, "my own passphrase")
    session.commit()
    alice = user(session, "alice.martin")
    assert people.pending_password(alice) is None and alice.initial_password is None
    assert people.verify(alice, "my own passphrase") and not people.verify(alice, generated)


def test_history_names_the_account_never_its_password(run, session, acme):
    generated = user_password(add(run, "1001", "Alice Martin", tenant="acme"))
    created = session.scalar(select(Event).where(Event.detail.like("user alice.martin created%")))
    assert created.tenant_id == acme and created.extension == "1001" and created.actor == "cli"
    assert created.detail == "user alice.martin created for extension 1001, with a generated password"
    exported = run("history", "export")
    assert generated not in exported
    assert not any(generated in d for d in admin_details(session))


def test_deleting_an_extension_deletes_its_account(run, session):
    add(run, "1001", "Alice Martin")
    run("extensions", "delete", "1001")
    assert user(session, "alice.martin") is None
    assert run("users", "list") == ""
    add(run, "1002", "Alice Martin")  # the username is free again
    assert user(session, "alice.martin").extension.number == "1002"


def test_the_export_carries_the_username_never_a_password(run, session, tmp_path):
    generated = user_password(add(run, "1001", "Alice Martin"))
    run("users", "set-password", "alice.martin", "--password-stdin", input="correct horse battery")
    add(run, "1002", "Bob")
    exported = run("extensions", "export")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["extension"], r["username"]) for r in rows] == [("1001", "alice.martin"), ("1002", "bob")]
    assert "user_password" not in rows[0]
    assert "$argon2" not in exported and generated not in exported and "correct horse" not in exported
    assert people.pending_password(user(session, "bob")) not in exported

    # It imports back unchanged: the accounts are the same, no password is generated or changed.
    backup = tmp_path / "backup.csv"
    backup.write_text(exported)
    hash_before = user(session, "alice.martin").password_hash
    output = run("extensions", "import", backup)
    assert output == "2 extension(s) imported\n"
    assert user(session, "alice.martin").password_hash == hash_before


IMPORT = (
    "extension,name,secret,username,user_password\n"
    "2001,Carol Jones,Carol-Secret-1,,\n"
    "2002,Dan Brown,Dan-Secret-2,danny,\n"
    "2003,Eve Adams,Eve-Secret-3,,eve-chooses-this\n"
)


def test_import_opens_accounts_and_lists_generated_passwords_once(run, session, tmp_path):
    file = tmp_path / "users.csv"
    file.write_text(IMPORT)
    output = run("extensions", "import", file)
    lines = output.splitlines()
    assert lines[:3] == [
        "3 extension(s) imported",
        "generated user passwords (shown once; each must be changed at the first sign-in):",
        "extension,username,user_password",
    ]
    generated = {row[1]: row[2] for row in csv.reader(lines[3:])}
    assert sorted(generated) == ["carol.jones", "danny"]
    for username, password in generated.items():
        assert people.verify(user(session, username), password)
    eve = user(session, "eve.adams")
    assert people.verify(eve, "eve-chooses-this") and eve.must_change_password
    assert people.pending_password(eve) is None  # chosen by the admin: never readable
    details = admin_details(session)
    assert "user accounts from " + str(file) + ": 3 created (2 with a generated password)" in details
    assert not any(p in d for p in [*generated.values(), "eve-chooses-this"] for d in details)


def test_import_writes_generated_passwords_to_a_private_file(run, session, tmp_path):
    file, out = tmp_path / "users.csv", tmp_path / "passwords.csv"
    file.write_text(IMPORT)
    out.write_text("old")
    os.chmod(out, 0o644)
    output = run("extensions", "import", file, "--passwords-out", out)
    assert output == f"3 extension(s) imported\n2 generated user password(s) written to {out}\n"
    assert os.stat(out).st_mode & 0o777 == 0o600
    rows = list(csv.DictReader(out.open()))
    assert [r["username"] for r in rows] == ["carol.jones", "danny"]
    assert people.verify(user(session, "danny"), rows[1]["user_password"])


@pytest.mark.parametrize(
    "rows, message",
    [
        ("2001,A,s1,danny,\n2002,B,s2,danny,\n", "line 3: username: 'danny' is already on line 2"),
        ("2001,A,s1,taken.name,\n", "line 2: username: 'taken.name' is taken in this tenant (extension 1000)"),
        ("2001,A,s1,2001,\n", "line 2: username: '2001' is not a username"),
        ("2001,A,Secret-Secret-1,,Secret-Secret-1\n", "line 2: user_password: must not be the extension's SIP secret"),
        ("2001,A,s1,,short\n", "line 2: user_password: needs at least 10"),
    ],
)
def test_import_with_a_bad_account_column_imports_nothing(run, session, tmp_path, rows, message):
    add(run, "1000", "Someone", "--username", "taken.name")
    file = tmp_path / "users.csv"
    file.write_text("extension,name,secret,username,user_password\n" + rows + "2009,Fine,s9,,\n")
    output = run("extensions", "import", file, code=1)
    assert message in output and len(output.strip().splitlines()) == 1, output
    session.expire_all()
    assert session.scalar(select(Extension).where(Extension.number == "2009")) is None
    assert run("users", "list") == "taken.name\t1000\tmust_change_password=yes\n"


def test_an_unwritable_passwords_file_imports_nothing(run, session, tmp_path):
    file = tmp_path / "users.csv"
    file.write_text(IMPORT)
    output = run("extensions", "import", file, "--passwords-out", tmp_path / "missing" / "pw.csv", code=1)
    assert "No such file or directory" in output and len(output.strip().splitlines()) == 1, output
    session.expire_all()
    assert session.scalars(select(Extension)).all() == [] and run("users", "list") == ""


def test_a_username_is_never_the_extension_number(run, session):
    output = run(
        "extensions", "add", "reception", "--name", "Desk", "--secret", SECRET, "--username", "Reception", code=1
    )
    assert "is the extension number" in output
    add(run, "reception", "Reception")  # the name would make the number: the next free one instead
    session.expire_all()
    assert session.scalar(select(User.username)) == "reception.2"


def test_extensions_set_renames_the_account_and_changes_the_cell_only(run, session):
    add(run, "1001", "Alice Martin", "--cell", "+44 7700 900123")
    assert run("extensions", "set", "1001", "--username", "alice") == "extension 1001 changed\n"
    alice = user(session, "alice")
    assert alice.cell == "+44 7700 900123" and alice.extension.name == "Alice Martin"
    run("extensions", "set", "1001", "--cell", "")
    assert user(session, "alice").cell is None
    output = run("extensions", "set", "1001", "--username", "1001", code=1)
    assert "is not a username" in output or "is the extension number" in output


def test_extensions_set_opens_an_account_for_an_extension_from_before_accounts(run, session):
    session.add(Extension(number="1001", name="Old Timer", secret="s"))
    session.commit()
    password = user_password(run("extensions", "set", "1001", "--email", "old@example.com"))
    assert people.verify(user(session, "old.timer"), password)
