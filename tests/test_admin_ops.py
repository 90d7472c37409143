"""What admins do, called directly: every change is checked first, written whole, and recorded."""

import pytest
from sqlalchemy import func, select

from hotdesk import hotdesking, settings_registry
from hotdesk.admin import AdminError, Conflict, NotFound, accounts, history, phones, pins
from hotdesk.admin import extensions as admin_extensions
from hotdesk.admin import settings as admin_settings
from hotdesk.admin import templates as admin_templates
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.models import Address, Event, EventKind, Extension, Mapping, Template
from hotdesk.notifications import DeviceNotifier
from hotdesk.runtime import notify_flavour
from hotdesk.templates import TemplateError
from tests.phones import RecordingNotifier


def admin_events(session):
    session.expire_all()
    return [(e.actor, e.detail) for e in session.scalars(select(Event).where(Event.kind == "admin").order_by(Event.id))]


def numbers(page):
    return [e.number for e in page.items]


def test_extensions_page_by_keyset_and_search(session):
    session.add_all(Extension(number=f"{2000 + i}", name=f"User {i:03}", secret="s") for i in range(120))
    session.add(Extension(number="3000", name="Zoë 100% Stone", secret="s"))
    session.commit()

    first = admin_extensions.page(session, limit=50)
    assert numbers(first)[:2] == ["2000", "2001"] and len(first.items) == 50
    second = admin_extensions.page(session, after=first.next, limit=50)
    assert numbers(second)[0] == "2050"
    last = admin_extensions.page(session, after=second.next, limit=50)
    assert numbers(last)[-1] == "3000" and len(last.items) == 21 and last.next is None

    assert numbers(admin_extensions.page(session, search="211")) == [f"211{i}" for i in range(10)]
    assert numbers(admin_extensions.page(session, search="user 007")) == ["2007"]
    assert numbers(admin_extensions.page(session, search="100%")) == ["3000"]
    assert numbers(admin_extensions.page(session, search="1_0")) == []
    with pytest.raises(AdminError, match="limit"):
        admin_extensions.page(session, limit=0)


def test_add_edit_delete_extension_are_recorded(session):
    values = settings_registry().values(session)
    admin_extensions.create(session, ExtensionData("1001", "Alice", "s3cret-Alice", "4321"), "ann", values)
    session.commit()
    with pytest.raises(Conflict):
        admin_extensions.create(session, ExtensionData("1001", "Alice", "s3cret-Alice"), "ann", values)

    changes = {"name": "Alice Martin", "secret": "new-Secret-7", "email": ""}
    admin_extensions.update(session, "1001", changes, "ann", values)
    session.commit()
    alice = admin_extensions.get(session, "1001")
    assert (alice.name, alice.secret, alice.voicemail_pin) == ("Alice Martin", "new-Secret-7", "4321")
    with pytest.raises(DirectoryError, match="name"):
        admin_extensions.update(session, "1001", {"name": ""}, "ann", values)
    with pytest.raises(DirectoryError, match="voicemail_pin"):
        admin_extensions.update(session, "1001", {"voicemail_pin": "12ab"}, "ann", values)
    assert admin_extensions.get(session, "1001").name == "Alice Martin"

    admin_extensions.delete(session, "1001", "ann")
    session.commit()
    with pytest.raises(NotFound):
        admin_extensions.get(session, "1001")
    events = admin_events(session)
    assert events == [
        ("ann", "extension 1001 added"),
        ("ann", "user alice created for extension 1001, with a generated password"),
        ("ann", "extension 1001 changed: name, secret"),
        ("ann", "extension 1001 deleted"),
    ]
    assert not any("new-Secret-7" in detail for _, detail in events)


def test_deleting_a_logged_in_extension_logs_its_phone_out(session):
    alice = Extension(number="1001", name="Alice", secret="s", voicemail_pin="4321")
    session.add(alice)
    session.commit()
    device = hotdesking.record_device(
        session, brand="yealink", mac="001565aabb01", model="T46S", firmware="66.86.0.15", ip="10.0.0.9"
    )
    made = hotdesking.login(session, settings_registry().values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    assert isinstance(made, hotdesking.LoggedIn)

    [displaced] = admin_extensions.delete(session, "1001", "ann")
    session.commit()
    assert displaced.mac == "001565aabb01"
    assert session.scalar(select(func.count()).select_from(Mapping)) == 0
    logout = session.scalar(select(Event).where(Event.kind == "logout"))
    assert (logout.extension, logout.actor) == ("1001", "ann")


CSV_WITH_BAD_ROWS = (
    "extension,name,secret,voicemail_pin\n"
    "1001,Alice,s1,4321\n"
    "1002,,s2,\n"  # no name
    "1003,Carol,s3,12x\n"  # PIN with a letter
    "1001,Again,s4,\n"  # twice in the file
    "1004,Dan,s5,1111,extra\n"  # a field too many
    "1005,Eve\n"  # two too few
    "1006,Frank,s6,\n"  # fine: the rows after a bad shape are still read
)


def test_import_preview_reports_every_bad_row_and_writes_nothing(session):
    session.add(Extension(number="1001", name="Old Alice", secret="old"))
    session.commit()

    preview = admin_extensions.preview_import(session, CSV_WITH_BAD_ROWS, "users.csv")
    assert [e.split(":")[0] for e in preview.errors] == [f"users.csv, line {n}" for n in (3, 4, 5, 6, 7)]
    assert (
        "name" in preview.errors[0]
        and "voicemail_pin" in preview.errors[1]
        and "already on line 2" in preview.errors[2]
    )
    assert preview.errors[3].endswith("expected 4 fields, found 5") and preview.errors[4].endswith(
        "expected 4 fields, found 2"
    )
    assert [(r.line, r.data.number, r.action) for r in preview.rows] == [(2, "1001", "update"), (8, "1006", "add")]

    with pytest.raises(DirectoryError, match=r"line 3: name.*\(and 4 more bad row\(s\)\)"):
        admin_extensions.import_csv(session, CSV_WITH_BAD_ROWS, "users.csv", "ann")
    session.expire_all()
    assert [e.name for e in session.scalars(select(Extension))] == ["Old Alice"]
    assert admin_events(session) == []

    good = "extension,name,secret,voicemail_pin\n1001,Alice,s1,4321\n1002,Bob,s2,\n"
    assert [r.action for r in admin_extensions.import_csv(session, good, "users.csv", "ann").rows] == ["update", "add"]
    session.commit()
    assert admin_events(session) == [
        ("ann", "extensions imported from users.csv: 1 added, 1 updated"),
        ("ann", "user accounts from users.csv: 2 created (2 with a generated password)"),
    ]


def test_export_is_what_import_reads(session):
    admin_extensions.import_csv(
        session,
        "extension,name,secret,voicemail_pin,email,auth_name,template\n"
        '1001,"Martin, Alice",s1,4321,alice@example.com,,yealink/default\n'
        "1002,Bob,s2,,,bob-auth,\n",
        "in.csv",
        "ann",
    )
    exported = "".join(admin_extensions.export_csv(session))
    assert exported.splitlines() == [
        "extension,name,secret,voicemail_pin,email,auth_name,template,username",
        '1001,"Martin, Alice",s1,4321,alice@example.com,,yealink/default,alice.martin',
        "1002,Bob,s2,,,bob-auth,,bob",
    ]
    assert admin_extensions.preview_import(session, exported, "out.csv").ok


@pytest.mark.parametrize(
    "body, message",
    [
        ("account.1.enable = {{ 1 if line else 0 }\n", "line 1: unexpected '}'"),
        ("a = 1\nb = {{ line.secret }}\n", r"line 2: .*guest phone"),
        ("a = {{ 1 / 0 }}\n", "ZeroDivisionError"),
        ("a = {{ nonexistent }}\n", "'nonexistent' is undefined"),
        ("a = {{ ''.__class__.__mro__ }}\n", "unsafe"),
    ],
)
def test_a_template_that_would_not_render_is_not_saved(session, body, message):
    default = admin_templates.get(session, "yealink", "default")
    stock = default.body
    with pytest.raises(TemplateError, match=message):
        admin_templates.save(session, "yealink", "default", body, "ann")
    session.expire_all()
    assert admin_templates.get(session, "yealink", "default").body == stock
    assert admin_events(session) == []


def test_every_stock_template_passes_the_check(session):
    for template in admin_templates.listing(session):
        admin_templates.check(admin_templates.brand_of(template.brand), template.name, template.body)


def test_an_xml_template_must_render_well_formed_xml(session):
    xml_brands = [
        t for t in admin_templates.listing(session) if "xml" in admin_templates.brand_of(t.brand).config_content_type
    ]
    if not xml_brands:
        pytest.skip("no brand with XML configuration files")
    template = xml_brands[0]
    with pytest.raises(TemplateError, match="malformed XML"):
        admin_templates.save(session, template.brand, "broken", "<config><a></config>\n", "ann")


def test_new_template_default_and_delete(session):
    stock = admin_templates.get(session, "yealink", "default").body
    admin_templates.save(session, "yealink", "lobby", stock.replace("External", "Outside"), "ann")
    session.commit()
    with pytest.raises(Conflict):
        admin_templates.save(session, "yealink", "lobby", stock, "ann", create_only=True)
    with pytest.raises(TemplateError, match="name"):
        admin_templates.save(session, "yealink", "no spaces please", stock, "ann")
    with pytest.raises(NotFound, match="brand"):
        admin_templates.save(session, "nokia", "x", stock, "ann")

    admin_templates.set_default(session, "yealink", "lobby", "ann")
    session.commit()
    session.expire_all()
    assert [
        t.name for t in session.scalars(select(Template).where(Template.brand == "yealink", Template.is_default))
    ] == ["lobby"]
    with pytest.raises(Conflict, match="default"):
        admin_templates.delete(session, "yealink", "lobby", "ann")
    admin_templates.set_default(session, "yealink", "default", "ann")
    session.commit()
    admin_templates.delete(session, "yealink", "lobby", "ann")
    session.commit()
    assert [d for _, d in admin_events(session)] == [
        "template yealink/lobby added",
        "template yealink/lobby made the default",
        "template yealink/default made the default",
        "template yealink/lobby deleted",
    ]


def test_pin_and_unpin(session):
    session.add(Extension(number="1001", name="Alice", secret="s"))
    session.commit()
    admin_templates.save(session, "yealink", "lobby", admin_templates.get(session, "yealink", "default").body, "ann")
    session.commit()

    pins.pin(session, "1001", "yealink/lobby", "ann")
    session.commit()
    assert [(p.extension.number, p.brand, p.template.name) for p in pins.listing(session)] == [
        ("1001", "yealink", "lobby")
    ]
    with pytest.raises(DirectoryError, match="no template"):
        pins.pin(session, "1001", "yealink/nope", "ann")
    with pytest.raises(TemplateError, match="brand/name"):
        pins.pin(session, "1001", "lobby", "ann")
    pins.unpin(session, "1001", "yealink", "ann")
    session.commit()
    assert pins.listing(session) == []
    with pytest.raises(NotFound):
        pins.unpin(session, "1001", "yealink", "ann")


def test_force_logout_ends_the_login_and_tells_the_phone(session):
    session.add(Extension(number="1001", name="Alice", secret="s", voicemail_pin="4321"))
    session.commit()
    device = hotdesking.record_device(
        session, brand="yealink", mac="001565aabb01", model="T46S", firmware="66.86.0.15", ip="10.0.0.9"
    )
    registry = settings_registry()
    hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.INTERNAL)
    session.commit()
    [seat] = phones.who_is_where(session)
    assert (seat.extension, seat.mac, seat.template, seat.model, seat.address) == (
        "1001",
        "001565aabb01",
        "yealink/default",
        "T46S",
        "internal",
    )
    marker = phones.live_marker(session)

    sent = RecordingNotifier()
    notifier = DeviceNotifier(sent, notify_flavour)
    assert phones.force_logout(session, registry, notifier, "00:15:65:AA:BB:01", "ann").extension.number == "1001"
    assert sent.sent == []  # the phone is told once the logout is committed, not before
    session.commit()
    assert [(n.host, n.mac) for n in sent.sent] == [("10.0.0.9", "001565aabb01")]
    assert phones.who_is_where(session) == [] and phones.live_marker(session) > marker
    assert phones.force_logout(session, registry, notifier, "001565aabb01", "ann").extension is None
    session.commit()
    with pytest.raises(NotFound):
        phones.force_logout(session, registry, notifier, "001565aabb99", "ann")
    with pytest.raises(AdminError, match="mac"):
        phones.force_logout(session, registry, notifier, "not-a-mac", "ann")


def test_history_filters_and_export(session):
    session.add_all(
        [
            Event(
                kind="login", extension="1001", mac="001565aabb01", at=history.parse_moment("at", "2026-03-01T09:00:00")
            ),
            Event(
                kind="logout",
                extension="1001",
                mac="001565aabb01",
                at=history.parse_moment("at", "2026-03-01T17:00:00"),
            ),
            Event(
                kind="login",
                extension="1002",
                mac="001565aabb02",
                detail="=HYPERLINK(1)",
                at=history.parse_moment("at", "2026-03-02T09:00:00"),
            ),
        ]
    )
    session.commit()

    def kinds(**filters):
        return [(e.kind, e.extension) for e in history.page(session, history.Filters.parse(**filters)).items]

    assert kinds(extension="1001") == [("logout", "1001"), ("login", "1001")]
    assert kinds(mac="00-15-65-AA-BB-02") == [("login", "1002")]
    assert kinds(since="2026-03-02") == [("login", "1002")]
    assert kinds(until="2026-03-01") == [("logout", "1001"), ("login", "1001")]
    assert kinds(since="2026-03-01T12:00:00Z", until="2026-03-01T23:00") == [("logout", "1001")]
    assert kinds(kind="logout") == [("logout", "1001")]
    for bad in ({"mac": "xyz"}, {"since": "yesterday"}, {"kind": "party"}):
        with pytest.raises(AdminError, match=next(iter(bad))):
            history.Filters.parse(**bad)

    first = history.page(session, history.Filters(), limit=2)
    assert history.page(session, history.Filters(), before=first.next, limit=2).items[0].extension == "1001"

    lines = "".join(history.export_csv(session, history.Filters.parse(since="2026-03-02"))).splitlines()
    assert lines[0].startswith("id,at,kind,extension,mac")
    assert lines[1].split(",")[1:5] == ["2026-03-02T09:00:00+00:00", "login", "1002", "001565aabb02"]
    assert lines[1].endswith(",'=HYPERLINK(1)")


def test_settings_change_recorded_without_secret_values(session):
    registry = settings_registry()
    admin_settings.change(session, registry, "external_address", "pbx2.example.com", "ann")
    session.commit()
    admin_settings.change(session, registry, "user_password", "73737373", "ann")
    session.commit()
    admin_settings.change(session, registry, "external_address", "pbx2.example.com", "ann")  # unchanged: no line
    session.commit()
    assert admin_events(session) == [
        ("ann", "setting external_address = 'pbx2.example.com'"),
        ("ann", "setting user_password = (secret)"),
    ]
    shown = {s.name: s.value for s in admin_settings.listing(session, registry)}
    assert shown["external_address"] == "pbx2.example.com" and shown["user_password"] is None


def test_admin_sign_in_is_throttled_per_name(session):
    accounts.add_admin(session, "ann", "correct horse battery", "cli")
    session.commit()
    with pytest.raises(AdminError, match="at least"):
        accounts.add_admin(session, "bob", "short", "cli")
    assert accounts.sign_in(session, "ann", "correct horse battery", "10.0.0.1").name == "ann"
    session.commit()

    for _ in range(accounts.FAILURES_PER_NAME):
        with pytest.raises(accounts.SignInRefused, match="Wrong name or password"):
            accounts.sign_in(session, "ann", "wrong password!", "10.0.0.2")
    with pytest.raises(accounts.SignInRefused, match="Too many failed sign-ins") as refused:
        accounts.sign_in(session, "ann", "correct horse battery", "10.0.0.3")
    assert refused.value.retry_after is not None
    with pytest.raises(accounts.SignInRefused, match="Wrong name"):
        accounts.sign_in(session, "nobody", "correct horse battery", "10.0.0.3")


def test_api_tokens_are_stored_hashed_and_revocable(session):
    new = accounts.create_token(session, "provisioning-script", "ann")
    session.commit()
    assert new.secret.startswith("hdk_") and new.secret not in new.token.token_hash
    assert accounts.token_named_by(session, new.secret).name == "provisioning-script"
    assert accounts.token_named_by(session, new.secret + "x") is None
    with pytest.raises(Conflict):
        accounts.create_token(session, "provisioning-script", "ann")
    accounts.revoke_token(session, "provisioning-script", "ann")
    session.commit()
    assert accounts.token_named_by(session, new.secret) is None
    assert [d for _, d in admin_events(session)] == [
        "API token provisioning-script created (read, write)",
        "API token provisioning-script revoked",
    ]
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == EventKind.ADMIN.value)) == 2
