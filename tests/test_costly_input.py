"""Input crafted to be expensive costs about what ordinary input costs: User-Agents (read before
any authentication) and provisioning templates (written by admins, rendered on phones' fetches).

Costs are compared with ordinary input's in the same run, never with absolute timings."""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request

import pytest

from hotdesk import brands
from hotdesk.admin import accounts
from hotdesk.admin import templates as admin_templates
from hotdesk.brands import BRANDS
from hotdesk.templates import TemplateError
from tests.conftest import PROVISIONING

NORMAL_USER_AGENTS = (
    "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc",
    "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859",
    "digium_D40_1_0_5_46476",
    "Fanvil X4U 2.12.1 0c383e0a0b0c",  # the last brand tried: the dearest ordinary User-Agent
)
# Each aims at a recogniser's patterns: a run of what two neighbouring quantifiers both accept,
# then a character that makes the match fail, so a backtracking search tries every split.
CRAFTED_USER_AGENTS = {
    "digium vendor class, 8 KB": "digium_D40" + "_1" * 4000 + "!",
    "digium vendor class, short": "digium_D40" + "_1" * 120 + "!",
    "digium, 8 KB": "Digium D60 " + "1" * 8000 + "!",
    "grandstream old, 8 KB": "Grandstream GXP2000 (a.bin:" + "1" * 8000 + ") DevId x",
    "grandstream old, short": "Grandstream GXP2000 (a.bin:" + "1" * 230 + ") DevId x",
    "grandstream model, 8 KB": "Grandstream Model HW X " + " " * 8000 + "!",
    "snom, 8 KB": "snom760-SIP " + "1." * 4000,
    "yealink, 8 KB": "Yealink SIP-T46S " + "1." * 4000,
}


def cost(user_agent: str, repeats: int = 200) -> float:
    """Seconds per recognise(), the best of five runs (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            brands.recognise(user_agent, {})
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


@pytest.mark.parametrize("name", CRAFTED_USER_AGENTS)
def test_a_crafted_user_agent_costs_no_more_than_a_few_ordinary_ones(name):
    assert all(brands.recognise(agent, {}) for agent in NORMAL_USER_AGENTS)
    ordinary = max(cost(agent) for agent in NORMAL_USER_AGENTS)
    crafted = cost(CRAFTED_USER_AGENTS[name], repeats=20)
    assert crafted < 5 * ordinary, f"{name}: {crafted / ordinary:.1f}× an ordinary User-Agent"


def test_every_user_agent_form_is_still_recognised():
    expected = {
        "Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8": (
            "grandstream",
            "GXP2000",
            "1.2.5.3",
            "000b822726c8",
        ),
        "Grandstream GXP2000 (boot) DevId 000b822726c8": ("grandstream", "GXP2000", None, "000b822726c8"),
        "Grandstream Model HW GXV3350  V1.3A SW 1.0.4.138 DevId c074ad2bd859": (
            "grandstream",
            "GXV3350",
            "1.0.4.138",
            "c074ad2bd859",
        ),
        "digium_D40_1_0_5_46476": ("digium", "D40", "1.0.5.46476", None),
        "Digium D60 2_7_0": ("digium", "D60", "2.7.0", None),
    }
    for agent, (brand, model, firmware, mac) in expected.items():
        found, identity = brands.recognise(agent, {})
        assert (found.key, identity.model, identity.firmware, identity.mac) == (brand, model, firmware, mac)


def test_an_overlong_user_agent_is_no_phone():
    assert brands.recognise("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc" + " " * 600, {}) is None
    yealink = brands.BRANDS["yealink"]
    assert yealink.identify("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc" + " " * 600, {}) is None


# Templates: admins write them, phones' fetches render them.

COSTLY_TEMPLATES = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "a huge range": "{% for i in range(10**9) %}{% endfor %}",
    "a huge string": "{{ 'x' * 10**8 }}",
    "a huge padding": "{{ 'x'|center(10**8) }}{{ 'x'.ljust(10**8) }}",
    "a huge format width": "{{ '%100000000s'|format(1) }}{{ '{:>100000000}'.format(1) }}",
    "a huge power": "{{ 2 ** 100000000 }}",
    "a string doubling in a loop": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
    ),
    "a huge output": "{% for i in range(90000) %}{{ 'x' * 100 }}{% endfor %}",
    "a macro calling itself twice": (
        "{% macro m(n) %}{% if n < 40 %}{{ m(n + 1) }}{{ m(n + 1) }}{% endif %}{% endmacro %}{{ m(1) }}"
    ),
}


def finishes(work, seconds: float = 60):
    """work()'s result, or AssertionError if it is still running after `seconds` (it hangs)."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "still working: it would pin a worker"
    return result[0]


def saving(session, body: str):
    """What the console, the API and the CLI do to save a template: an error message, or None."""

    def save():
        try:
            admin_templates.save(session, "yealink", "costly", body, "ann")
            session.commit()
        except TemplateError as error:
            session.rollback()
            return str(error)
        return None

    return finishes(save)


@pytest.mark.parametrize("name", COSTLY_TEMPLATES)
def test_saving_a_template_too_costly_to_render_is_refused_with_a_clear_message(session, name):
    stock = BRANDS["yealink"].stock_templates()["default"]
    error = saving(session, stock + COSTLY_TEMPLATES[name])
    assert error and error.startswith("template") and "rendering for a" in error, error
    assert admin_templates.find(session, "yealink", "costly") is None


def test_the_api_says_why_a_costly_template_is_refused(client, session):
    token = accounts.create_token(session, "templates", "test").secret
    session.commit()
    stock = BRANDS["yealink"].stock_templates()["default"]
    answer = client.put(
        "/api/v1/templates/yealink/costly",
        json={"body": stock + COSTLY_TEMPLATES["a huge padding"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422 and "more than any template needs" in answer.json["error"], answer.json


def test_a_template_costly_for_one_phone_only_answers_its_fetch_at_once(session, live_server):
    """Saved (it renders for the sample phones), costly for one MAC: that phone gets an error, no hang."""
    stock = BRANDS["yealink"].stock_templates()["default"]
    trap = "{% if device.mac == '001565aabbcc' %}" + COSTLY_TEMPLATES["nested loops"] + "{% endif %}"
    assert saving(session, stock + trap) is None
    admin_templates.set_default(session, "yealink", "costly", "ann")
    session.commit()

    def fetch(mac: str):
        request = urllib.request.Request(
            f"{live_server.url()}/provision/{mac}.cfg",
            headers={
                "User-Agent": f"Yealink SIP-T46S 66.86.0.15 {':'.join(mac[i : i + 2] for i in range(0, 12, 2))}",
                "Authorization": "Basic " + base64.b64encode(":".join(PROVISIONING).encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    status, headers, body = finishes(lambda: fetch("001565aabbcc"))
    assert status == 503 and headers["Retry-After"] and b"template" in body
    assert finishes(lambda: fetch("001565aabbcd"))[0] == 200  # every other phone is served as usual
