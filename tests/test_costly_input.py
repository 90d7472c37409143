"""Input crafted to be expensive costs about what ordinary input costs: User-Agents (read before
any authentication) and provisioning templates (written by admins, rendered on phones' fetches).

Costs are compared with ordinary input's in the same run, never with absolute timings."""

from __future__ import annotations

import time

import pytest

from hotdesk import brands

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
