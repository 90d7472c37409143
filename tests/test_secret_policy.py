"""The secret and PIN policy (seed 003) through every face: a secret or PIN a person types breaks
no rule, or is refused with one message naming every rule it breaks and nothing changes; one from
a PBX import is accepted and reported; a generator makes compliant secrets; every phone asks for
the PIN in its numeric mode."""

import re
import string

import pytest
from lxml import html
from sqlalchemy import select

from hotdesk import policy, settings_registry
from hotdesk.admin import accounts
from hotdesk.models import Event, Extension
from hotdesk.settings import PinLength, SettingError, check_pin_length
from tests.brands import EMULATORS
from tests.test_api import api, assert_json_error, token  # noqa: F401 (fixtures)
from tests.test_cli import run  # noqa: F401 (fixture)
from tests.test_console import Console, _push_request_context, admin, console, text  # noqa: F401 (fixtures)

STRONG = re.compile(r"[A-Za-z0-9!%*_-]{8,}")
RULES = (
    "at least 8 characters",
    "an upper-case letter",
    "a lower-case letter",
    "a digit",
    "one of ! % * _ -",
    "only letters a-z A-Z, digits and ! % * _ -",
)


def meets_policy(secret):
    return (
        STRONG.fullmatch(secret) is not None
        and any(c in string.ascii_uppercase for c in secret)
        and any(c in string.ascii_lowercase for c in secret)
        and any(c in string.digits for c in secret)
        and any(c in "!%*_-" for c in secret)
    )


def set_setting(session, name, value):
    settings_registry().set(session, name, value)
    session.commit()


# the rules


@pytest.mark.parametrize(
    "secret, broken",
    [
        ("Abcdef1!", []),
        ("aB3%aB3%", []),
        ("Zz9_longer-than-most", []),
        ("", RULES[:5]),
        ("short", (RULES[0], RULES[1], RULES[3], RULES[4])),
        ("alllowercase", (RULES[1], RULES[3], RULES[4])),
        ("ALLUPPER1!", (RULES[2],)),
        ("NoDigits!!", (RULES[3],)),
        ("NoSpecial12", (RULES[4],)),
        ("Has Space1!", (RULES[5],)),
        ("Abcdef1!$", (RULES[5],)),  # $ is not one of the five
        ("ÜnïCode1!x", (RULES[5],)),  # letters means a-z and A-Z
        ("x", RULES[:2] + RULES[3:5]),
    ],
)
def test_secret_problems_names_every_broken_rule(secret, broken):
    assert policy.secret_problems(secret) == list(broken)


def test_generated_secrets_meet_the_policy_and_differ():
    made = {policy.generate_secret() for _ in range(500)}
    assert len(made) == 500
    assert all(meets_policy(secret) and policy.secret_problems(secret) == [] for secret in made)
    assert {len(secret) for secret in made} == {policy.GENERATED_LENGTH}
    assert set("".join(made)) == set(string.ascii_letters + string.digits + "!%*_-")  # every character used


@pytest.mark.parametrize(
    "value, stored", [("4-12", "4-12"), ("4", "4"), (" 6-6 ", "6"), ("4-32", "4-32"), ("04-08", "4-8")]
)
def test_pin_length_values(value, stored):
    assert check_pin_length(value) == stored


@pytest.mark.parametrize("value", ["", "3", "0-4", "8-4", "4-33", "four", "4-", "-4", "4-12-16", "٤"])
def test_pin_length_refuses_what_is_not_a_length(value):
    with pytest.raises(SettingError, match="not a PIN length"):
        check_pin_length(value)


@pytest.mark.parametrize(
    "pin, lengths, problem",
    [
        ("4817", PinLength(4, 12), None),
        ("481", PinLength(4, 12), "shorter than 4 digits"),
        ("4817" * 4, PinLength(4, 12), "longer than 12 digits"),
        ("48173", PinLength(4, 4), "not 4 digits"),
        ("4817", PinLength(4, 4), None),
    ],
)
def test_pin_length_problem(pin, lengths, problem):
    assert policy.pin_length_problem(pin, lengths) == problem


# the command line


def test_cli_refuses_a_weak_secret_naming_every_rule_and_changes_nothing(run, session):
    result = run("extensions", "add", "2001", "--name", "Carol", "--secret", "carol")
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("Error: secret: too weak")
    for rule in ("at least 8 characters", "an upper-case letter", "a digit", "one of ! % * _ -"):
        assert rule in line
    assert "lower-case" not in line and "carol" not in line.split("too weak")[1]  # never the secret itself
    assert session.scalars(select(Extension)).all() == []


def test_cli_add_without_a_secret_generates_one_and_prints_it(run, session):
    result = run("extensions", "add", "2001", "--name", "Carol", "--pin", "4817")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "extension 2001 saved"
    [printed] = [line.removeprefix("secret: ") for line in result.output.splitlines() if line.startswith("secret: ")]
    assert meets_policy(printed)
    assert session.scalar(select(Extension.secret).where(Extension.number == "2001")) == printed
    history = " ".join(e.detail or "" for e in session.scalars(select(Event)))
    assert printed not in history

    # Again without --secret: the existing extension keeps its secret, and none is printed.
    again = run("extensions", "add", "2001", "--name", "Carol Smith")
    assert again.exit_code == 0 and "secret:" not in again.output
    session.expire_all()
    assert session.scalar(select(Extension.secret).where(Extension.number == "2001")) == printed


def test_cli_secrets_generate(run):
    made = [run("secrets", "generate").output for _ in range(3)]
    assert all(out.endswith("\n") and meets_policy(out.strip()) for out in made)
    assert len(set(made)) == 3


def test_secret_policy_any_lets_a_person_type_a_weak_secret(run, session):
    assert run("settings", "set", "secret_policy", "loose").exit_code == 1
    assert run("settings", "set", "secret_policy", "any").exit_code == 0
    assert run("extensions", "add", "2001", "--name", "Carol", "--secret", "carol").exit_code == 0


def test_typed_pins_must_fit_pin_length(run, session):
    short = run("extensions", "add", "2001", "--name", "Carol", "--secret", "Carol-2001", "--pin", "123")
    assert short.exit_code == 1
    assert short.output == "Error: voicemail_pin: shorter than 4 digits (pin_length is 4-12)\n"
    long = run("extensions", "add", "2001", "--name", "Carol", "--secret", "Carol-2001", "--pin", "4817" * 4)
    assert long.exit_code == 1 and "longer than 12 digits" in long.output
    assert session.scalars(select(Extension)).all() == []

    assert run("settings", "set", "pin_length", "4").exit_code == 0
    assert run("settings", "get", "pin_length").output == "4\n"
    five = run("extensions", "add", "2001", "--name", "Carol", "--secret", "Carol-2001", "--pin", "48173")
    assert five.exit_code == 1 and "not 4 digits (pin_length is 4)" in five.output
    assert run("extensions", "add", "2001", "--name", "Carol", "--secret", "Carol-2001", "--pin", "4817").exit_code == 0
    assert run("settings", "set", "pin_length", "2-40").exit_code == 1


def test_changing_another_field_does_not_judge_a_kept_weak_secret_or_pin(run, session, tmp_path):
    csv = tmp_path / "pbx.csv"
    csv.write_text("extension,name,secret,voicemail_pin\n2001,Carol,weak,12\n")
    assert run("extensions", "import", csv).exit_code == 0
    renamed = run("extensions", "add", "2001", "--name", "Carol Smith", "--pin", "12")
    assert renamed.exit_code == 0, renamed.output  # same PIN, kept secret: nothing newly typed to judge
    session.expire_all()
    assert session.scalar(select(Extension.secret).where(Extension.number == "2001")) == "weak"
    retyped = run("extensions", "add", "2001", "--name", "Carol Smith", "--secret", "weaker")
    assert retyped.exit_code == 1 and "too weak" in retyped.output


def test_import_keeps_a_pbxs_weak_secrets_and_pins_and_reports_them(run, session, tmp_path):
    csv = tmp_path / "freepbx.csv"
    csv.write_text(
        "extension,name,secret,voicemail_pin\n"
        "2001,Ann,annsecret1,1111\n"  # weak secret, trivial PIN
        "2002,Bob,Bob-SIP-2002,4817\n"  # both fine
        "2003,Cy,cy,123\n"  # weak secret, PIN shorter than pin_length
    )
    result = run("extensions", "import", csv)
    assert result.exit_code == 0
    assert "3 extension(s) imported" in result.output
    assert "warning: 2 imported secret(s) break the secret policy: see `hotdesk extensions weak-secrets`" in (
        result.output
    )
    assert "warning: 2 imported PIN(s) are outside pin_length or trivial to guess" in result.output
    assert sorted(session.scalars(select(Extension.secret))) == ["Bob-SIP-2002", "annsecret1", "cy"]

    secrets = run("extensions", "weak-secrets")
    assert secrets.exit_code == 1
    assert secrets.output == (
        "2001\tneeds an upper-case letter; one of ! % * _ -\n"
        "2003\tneeds at least 8 characters; an upper-case letter; a digit; one of ! % * _ -\n"
    )
    assert "annsecret1" not in secrets.output
    pins = run("extensions", "weak-pins")
    assert pins.exit_code == 1
    assert pins.output == "2001\tone digit repeated\n2003\tshorter than 4 digits\n"

    strong = tmp_path / "fixed.csv"
    strong.write_text("extension,name,secret,voicemail_pin\n2001,Ann,Ann-2001-x,4817\n2003,Cy,Cy-2003-x,\n")
    fixed = run("extensions", "import", strong)
    assert "warning" not in fixed.output
    assert run("extensions", "weak-secrets").exit_code == 0 and run("extensions", "weak-pins").exit_code == 0


# the API


def test_api_refuses_weak_secrets_and_bad_pins(api, session):
    weak = api.post("/extensions", json={"number": "2001", "name": "Carol", "secret": "Carol"})
    assert_json_error(weak, 422, "secret: too weak (secret_policy is strong): it needs at least 8 characters; a digit")
    short = api.post("/extensions", json={"number": "2001", "name": "C", "secret": "Carol-2001", "voicemail_pin": "1"})
    assert_json_error(short, 422, "voicemail_pin: shorter than 4 digits")
    assert session.scalars(select(Extension)).all() == []

    assert api.post("/extensions", json={"number": "2001", "name": "C", "secret": "Carol-2001"}).status_code == 201
    assert_json_error(api.patch("/extensions/2001", json={"secret": "carol2001"}), 422, "an upper-case letter")
    assert_json_error(api.patch("/extensions/2001", json={"voicemail_pin": "1234567890123"}), 422, "longer than 12")
    assert api.patch("/extensions/2001", json={"secret": "Carol-2002"}).status_code == 200
    session.expire_all()
    assert session.scalar(select(Extension.secret)) == "Carol-2002"


def test_api_generates_secrets_and_lists_weak_ones(api, client, session):
    first, second = api.get("/secrets/generate"), api.get("/secrets/generate")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert meets_policy(first.json["secret"]) and first.json["secret"] != second.json["secret"]
    assert session.scalars(select(Extension)).all() == []  # nothing stored

    imported = api.post(
        "/extensions/import", data="extension,name,secret,voicemail_pin\n2001,A,weak,1111\n", content_type="text/csv"
    )
    assert imported.json["weak_secrets"] == ["2001"] and imported.json["weak_pins"] == ["2001"]
    assert api.get("/extensions/weak-secrets").json == {
        "items": [
            {
                "extension": "2001",
                "reason": "needs at least 8 characters; an upper-case letter; a digit; one of ! % * _ -",
            }
        ]
    }
    assert api.get("/extensions/weak-pins").json == {"items": [{"extension": "2001", "reason": "one digit repeated"}]}
    assert b"weak" not in api.get("/extensions/weak-secrets").data.replace(b"weak-", b"")

    # What the reasons say of a secret or PIN ("one digit repeated") is for the secrets scope.
    reader = accounts.create_token(session, "monitor", "test", scopes=("read",)).secret
    session.commit()
    for path in ("/extensions/weak-secrets", "/extensions/weak-pins"):
        refused = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {reader}"})
        assert_json_error(refused, 403, "secrets scope")
    generated = client.get("/api/v1/secrets/generate", headers={"Authorization": f"Bearer {reader}"})
    assert generated.status_code == 200  # nobody's secret yet


# the console (without JavaScript; the key button in the real browser: tests/test_console_browser.py)


def test_console_refuses_a_weak_secret_with_every_rule_and_keeps_the_form(console, session):
    form = console.page("/admin/extensions/new")
    assert form.xpath("//button[@data-generate-secret]/@aria-label") == ["Generate a strong secret"]
    assert "one of ! % * _ -" in form.get_element_by_id("secret-rules").text_content()
    refused = console.post(
        "/admin/extensions/new", {"number": "2001", "name": "Carol", "secret": "carol"}, token_from=form
    )
    assert refused.status_code == 422
    alert = " ".join(html_of(refused).xpath("//*[@role='alert']")[0].text_content().split())
    assert alert == (
        "secret: too weak (secret_policy is strong): it needs at least 8 characters; an upper-case letter; a digit;"
        " one of ! % * _ -"
    )
    assert html_of(refused).xpath("//input[@name='name']/@value") == ["Carol"]
    assert session.scalars(select(Extension)).all() == []

    generated = console.get("/admin/secrets/generate")
    assert generated.status_code == 200 and generated.headers["Cache-Control"] == "no-store"
    assert meets_policy(generated.json["secret"])


def test_console_generator_needs_a_signed_in_admin(client, admin):
    response = Console(client).get("/admin/secrets/generate")
    assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"]


def test_console_import_warns_and_lists_weak_secrets_and_pins(console, session):
    csv = "extension,name,secret,voicemail_pin\n2001,Ann,annsecret1,1111\n2002,Bob,Bob-SIP-2002,4817\n"
    preview = console.submit("/admin/extensions/import", {"csv": csv})
    assert preview.status_code == 200
    warning = html_of(preview).get_element_by_id("import-warning").text_content()
    assert "1 secret(s) break the secret policy and 1 PIN(s) are outside pin_length" in warning
    done = console.submit("/admin/extensions/import", {"csv": csv, "confirm": "1"}, follow_redirects=True)
    assert "2 extension(s) imported" in text(done) and "1 secret(s) break the secret policy" in text(done)

    weak = console.get("/admin/extensions/weak")
    page = html_of(weak)
    secrets = [[td.text_content() for td in tr] for tr in page.xpath("//table[@id='weak-secrets']/tbody/tr")]
    pins = [[td.text_content() for td in tr] for tr in page.xpath("//table[@id='weak-pins']/tbody/tr")]
    assert secrets == [["2001", "needs an upper-case letter; one of ! % * _ -"]]
    assert pins == [["2001", "one digit repeated"]]
    assert b"annsecret1" not in weak.data and b"1111" not in weak.data


def html_of(response):
    return html.fromstring(response.data)


# the phones: the login screen asks for the extension and the PIN in numeric mode


def _input_modes(phone, form):
    """Each field's (numeric, masked) as the brand's dialect says it, by query parameter."""
    brand = phone.brand
    if brand in ("yealink", "aastra"):
        fields = {f.findtext("Parameter"): f for f in form.iter("InputField")}
        assert form.get("type") == "number"  # the screen's own type agrees: every field is a number
        return {name: (f.get("type") == "number", f.get("password") == "yes") for name, f in fields.items()}
    if brand in ("cisco_spa", "cisco_sip", "fanvil"):
        return {
            i.findtext("QueryStringParam"): ("N" in i.findtext("InputFlags"), i.findtext("InputFlags").endswith("P"))
            for i in form.iter("InputItem")
        }
    if brand == "snom":
        return {
            i.findtext("InputToken").strip("$"): ("n" in i.findtext("InputFlags"), "p" in i.findtext("InputFlags"))
            for i in form.iter("InputItem")
        }
    if brand == "polycom":
        inputs = form.xpath("//*[local-name()='input'][@name]")
        return {i.get("name"): (i.get("inputmode") == "numeric", i.get("type") == "password") for i in inputs}
    if brand == "grandstream":
        # No numeric mode is documented for Grandstream's <input> (hotdesk/brands/grandstream.py):
        # the PIN is masked, and nothing is guessed.
        return {i.get("name"): (None, i.get("type") == "password") for i in form.iter("input")}
    raise AssertionError(f"{brand}: which attribute is its numeric input mode?")


@pytest.mark.parametrize("brand", sorted(EMULATORS))
def test_every_login_screen_asks_for_the_pin_in_numeric_mode(brand, client, extensions):
    phone = EMULATORS[brand](client, "0004f2a1b2c3")
    if not getattr(phone, "has_login_app", True):
        pytest.skip(f"{brand} phones have no XML browser, so no login screen")
    phone.boot()
    form = phone.press("External")
    modes = _input_modes(phone, form)
    expected_numeric = None if brand == "grandstream" else True
    assert modes == {"extension": (expected_numeric, False), "password": (expected_numeric, True)}
    assert "PIN" in phone.text(form)
    assert "Alice Martin" in phone.text(phone.submit(form, extension="1001", password="4321"))


# per tenant: the policy is a setting like any other


def test_each_tenant_has_its_own_policy(run, session):
    assert run("tenants", "add", "acme", "--sip-domain", "acme.example.com").exit_code == 0
    assert run("settings", "set", "secret_policy", "any", "--tenant", "acme").exit_code == 0
    assert run("settings", "set", "pin_length", "4", "--tenant", "acme").exit_code == 0

    loose = run("extensions", "add", "1001", "--name", "Ann", "--secret", "ann", "--pin", "4817", "--tenant", "acme")
    assert loose.exit_code == 0, loose.output
    five = run("extensions", "add", "1002", "--name", "Al", "--secret", "al", "--pin", "48173", "--tenant", "acme")
    assert five.exit_code == 1 and "not 4 digits (pin_length is 4)" in five.output
    strict = run("extensions", "add", "1001", "--name", "Ann", "--secret", "ann", "--pin", "48173")
    assert strict.exit_code == 1 and "too weak (secret_policy is strong)" in strict.output

    assert run("extensions", "weak-secrets", "--tenant", "acme").output == (
        "1001\tneeds at least 8 characters; an upper-case letter; a digit; one of ! % * _ -\n"
    )
    assert run("extensions", "weak-secrets").exit_code == 0  # the default tenant has none
