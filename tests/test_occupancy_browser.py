"""The occupancy page in a real browser (Chromium through Playwright): a facilities manager opens it
after a week of logins, picks the week, and reads peak use and the unused desks off the charts —
which must be drawn, with data, in the page's own pixels (a screenshot of each chart's box)."""

from __future__ import annotations

import io

import pytest

from hotdesk.admin import accounts
from hotdesk.models import Device
from tests.test_console_browser import browser_page, playwright_api, sign_in  # noqa: F401 (fixture)
from tests.test_occupancy import MON, at, in_order

PIL = pytest.importorskip("PIL.Image")
BAR = (0x2F, 0x6D, 0xB5)  # the bars' colour (templates/admin/_chart.html)
FRIDAY = "2026-03-06"


def coloured(png: bytes, colour: tuple[int, int, int]) -> int:
    """How many pixels of the screenshot are (nearly) `colour`."""
    image = PIL.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for pixel in image.getdata() if all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True)))


def test_a_facilities_manager_reads_peak_use_and_unused_desks_off_the_charts(live_server, browser_page, session):
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    desks = [f"0015650e{n:04x}" for n in range(12)]
    for mac in desks:
        session.add(Device(mac=mac, brand="yealink"))
    week = []
    for day in range(5):  # Monday to Friday: more desks used each day, the last three never
        date = f"2026-03-0{2 + day}"
        for n in range(5 + day):
            week.append((desks[n], str(1000 + n), at(date, f"{8 + n % 3:02d}:00"), at(date, f"{16 + n % 2:02d}:30")))
    in_order(session, *week)
    session.commit()

    page = browser_page
    expect = playwright_api.expect
    page.goto(live_server.url("/admin/"))
    sign_in(page)
    page.get_by_role("link", name="Occupancy", exact=True).click()
    page.get_by_label("Since").fill(MON)
    page.get_by_label("Until").fill(FRIDAY)
    page.get_by_role("button", name="Show").click()

    expect(page.locator("#peak")).to_have_text("9")  # Friday: nine desks at once
    expect(page.locator("#phones-unused")).to_have_text("3")
    expect(page.locator("#unused")).to_contain_text(desks[-1])
    expect(page.locator("#chart-days .bar")).to_have_count(5)
    for chart in ("#chart-days", "#chart-hours", "#chart-phones"):
        box = page.locator(chart)
        expect(box).to_be_visible()
        drawn = coloured(box.screenshot(), BAR)
        assert drawn > 500, (chart, drawn)  # bars, in the page's pixels
    # Hovering a day's bar says what it shows.
    assert page.locator("#chart-days .bar title").nth(4).text_content() == (
        "2026-03-06: 9 phone(s) in use, at most 9 at once"
    )
    # An empty range draws empty charts: the bars above were the week's data.
    page.get_by_label("Since").fill("2026-01-05")
    page.get_by_label("Until").fill("2026-01-09")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#peak")).to_have_text("0")
    assert coloured(page.locator("#chart-days").screenshot(), BAR) == 0
