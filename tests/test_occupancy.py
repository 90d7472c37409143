"""Occupancy from the history, through every face: the numbers a facilities manager reads (per day,
per hour, per phone, per extension), a range's totals whatever was summed up before, tenants kept
apart, bad dates refused, and real logins counted."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from lxml import html
from sqlalchemy import select

from hotdesk import settings_registry, tenancy
from hotdesk.admin import occupancy
from hotdesk.models import DEFAULT_TENANT_ID, Device, Event, OccupancyTotal
from tests.phones import YealinkPhone
from tests.test_api import api, token  # noqa: F401 (fixtures)
from tests.test_cli import run  # noqa: F401 (fixture)
from tests.test_console import Console, admin, console  # noqa: F401 (fixtures)

A, B, C, UNUSED = "001565000a0a", "001565000b0b", "001565000c0c", "00156500dead"
MON, TUE, WED = "2026-03-02", "2026-03-03", "2026-03-04"


def at(day: str, time: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{time}:00+00:00")


def logged(session, mac: str, extension: str, start: datetime, end: datetime | None, tenant_id=DEFAULT_TENANT_ID):
    """A login (and its logout) as the history has them."""
    session.add(Event(at=start, kind="login", tenant_id=tenant_id, mac=mac, extension=extension, brand="yealink"))
    if end is not None:
        session.add(Event(at=end, kind="logout", tenant_id=tenant_id, mac=mac, extension=extension, brand="yealink"))
    session.flush()


def in_order(session, *sessions: tuple[str, str, datetime, datetime]) -> None:
    """Sessions' logins and logouts written as they happened: in time order (the history's ids are)."""
    happened = [(start, "login", mac, ext) for mac, ext, start, _ in sessions]
    happened += [(end, "logout", mac, ext) for mac, ext, _, end in sessions]
    for moment, kind, mac, ext in sorted(happened):
        session.add(Event(at=moment, kind=kind, mac=mac, extension=ext, brand="yealink"))
        session.flush()


@pytest.fixture
def week(session):
    for mac in (A, B, C, UNUSED):
        session.add(Device(mac=mac, brand="yealink"))
    in_order(
        session,
        (A, "1001", at(MON, "09:00"), at(MON, "12:00")),
        (B, "1002", at(MON, "09:30"), at(MON, "10:30")),
        (A, "1003", at(MON, "13:00"), at(MON, "14:00")),
        (B, "1001", at(TUE, "08:00"), at(TUE, "17:00")),
        (C, "1004", at(TUE, "11:00"), at(TUE, "11:30")),
    )
    session.add(Event(at=at(TUE, "12:00"), kind="notify", mac=B, detail="check-sync: delivered"))  # not a session
    session.commit()


def test_a_week_of_logins_read_as_a_facilities_manager_reads_it(session, week):
    found = occupancy.report(session, settings_registry(), since=MON, until=TUE)
    monday, tuesday = found.days
    assert (monday.phones, monday.sessions, monday.seconds, monday.peak) == (2, 3, 5 * 3600, 2)
    assert (tuesday.phones, tuesday.sessions, tuesday.seconds, tuesday.peak) == (2, 2, 9 * 3600 + 1800, 2)
    assert found.sessions == 5 and found.average_seconds == (14 * 3600 + 1800) // 5
    assert found.peak == 2
    nine = found.hours[9]  # Monday: A all hour, B half of it; Tuesday: B all hour; over two days
    assert (nine.average, nine.peak) == (1.25, 2)
    assert [(u.key, u.sessions, u.seconds) for u in found.phones] == [
        (B, 2, 10 * 3600),
        (A, 2, 4 * 3600),
        (C, 1, 1800),
        (UNUSED, 0, 0),
    ]
    assert [u.key for u in found.unused] == [UNUSED]
    assert found.least_used[0].key == UNUSED
    assert [(u.key, u.sessions, u.seconds) for u in found.extensions] == [
        ("1001", 2, 12 * 3600),
        ("1002", 1, 3600),
        ("1003", 1, 3600),
        ("1004", 1, 1800),
    ]


def test_a_range_is_right_whatever_was_summed_up_before(session, week):
    registry = settings_registry()
    assert occupancy.report(session, registry, since=MON, until=MON).sessions == 3
    session.commit()
    logged(session, A, "1001", at(WED, "10:00"), at(WED, "11:00"))
    session.commit()
    found = occupancy.report(session, registry, since=TUE, until=WED)
    assert found.read == 2  # only what was written since
    assert [day.sessions for day in found.days] == [2, 1]
    assert {u.key: (u.sessions, u.seconds) for u in found.phones if u.sessions} == {
        B: (1, 9 * 3600),
        A: (1, 3600),
        C: (1, 1800),
    }
    assert {u.key: u.sessions for u in found.extensions} == {"1001": 2, "1004": 1}
    session.commit()
    # Summed up once: a second report reads nothing new and says the same.
    again = occupancy.report(session, registry, since=TUE, until=WED)
    assert again.read == 0 and again.days == found.days and again.phones == found.phones
    assert session.scalar(
        select(OccupancyTotal).where(OccupancyTotal.key == "1001", OccupancyTotal.day == date.fromisoformat(WED))
    )


def test_a_session_still_going_on_counts_until_now(session, week):
    now = at(WED, "12:00")
    logged(session, C, "1005", at(WED, "09:00"), None)
    session.commit()
    found = occupancy.report(session, settings_registry(), since=WED, until=WED, now=now)
    assert found.ongoing == 1
    assert (found.days[0].phones, found.days[0].sessions, found.days[0].seconds) == (1, 1, 3 * 3600)
    assert found.hours[10].average == 1.0
    assert found.extensions[0].key == "1005"


def test_days_are_the_tenants_time_zone(session, week):
    registry = settings_registry()
    registry.set(session, "timezone", "America/New_York")
    session.commit()
    # Monday's sessions ended between 10:30 and 14:00 UTC: 05:30 to 09:00 in New York, still Monday.
    found = occupancy.report(session, registry, since=MON, until=MON)
    assert found.timezone == "America/New_York"
    assert found.days[0].sessions == 3
    assert found.hours[4].average == 1.5  # 09:00 UTC (A all hour, B half) is 04:00 in New York (EST)


def test_one_tenants_occupancy_is_its_own(session, week):
    acme = tenancy.add(session, settings_registry(), "acme", "acme.example.com", "test").tenant
    session.add(Device(mac="001565acac01", brand="yealink", tenant_id=acme.id))
    logged(session, "001565acac01", "1001", at(MON, "09:00"), at(MON, "18:00"), tenant_id=acme.id)
    session.commit()
    default = occupancy.report(session, settings_registry(), since=MON, until=TUE)
    theirs = occupancy.report(session, settings_registry(), since=MON, until=TUE, tenant_id=acme.id)
    assert "001565acac01" not in {u.key for u in default.phones}
    assert [(u.key, u.seconds) for u in theirs.phones] == [("001565acac01", 9 * 3600)]
    assert [(u.key, u.seconds) for u in theirs.extensions] == [("1001", 9 * 3600)]
    assert theirs.days[0].sessions == 1 and default.days[0].sessions == 3


@pytest.mark.parametrize(
    "since, until, message",
    [
        ("2026-13-01", None, "since: '2026-13-01' is not a date (YYYY-MM-DD)"),
        (WED, MON, "since: 2026-03-04 is after until (2026-03-02)"),
        ("1900-01-01", MON, "since: 1900-01-01 is out of range (years 1970 to 9998)"),
        ("2000-01-01", MON, "since: at most 3700 days at once"),
    ],
)
def test_bad_dates_are_refused_on_every_face(client, session, api, console, run, since, until, message):
    args = ["occupancy", "--since", since] + (["--until", until] if until else [])
    result = run(*args)
    assert result.exit_code == 1 and result.output.strip() == f"Error: {message}"
    query = {"since": since} | ({"until": until} if until else {})
    answer = api.get("/occupancy", query_string=query)
    assert answer.status_code == 422 and answer.json["error"] == message
    page = console.get("/admin/occupancy", query_string=query)
    assert page.status_code == 400 and message in html.fromstring(page.data).text_content()


@pytest.mark.parametrize("name", ["since", "until"])
def test_the_api_refuses_an_empty_date_which_its_schema_does_not_allow(api, name):
    answer = api.get("/occupancy", query_string={name: ""})
    assert answer.status_code == 422
    assert answer.json["error"] == f"{name}: '' is not a date (YYYY-MM-DD); leave {name} out for the default"


def test_every_face_gives_the_same_report(session, week, api, console, run, tmp_path):
    # The CLI: the summary and the tables; the CSV.
    result = run("occupancy", "--since", MON, "--until", TUE)
    assert result.exit_code == 0, result.output
    assert "sessions: 5, average 2h54; most logged in at once: 2; phones used: 3 of 4" in result.output
    assert f"{MON}\t2\t2\t3\t1h40" in result.output
    assert "unused phones: 1" in result.output
    out = tmp_path / "occupancy.csv"
    assert run("occupancy", "--since", MON, "--until", TUE, "--csv", out).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0][:3] == ["day", "phones_in_use", "peak_logged_in"] and rows[1][:4] == [MON, "2", "2", "3"]
    assert [B, "2", "36000", "18000"] in rows and [UNUSED, "0", "0", "0"] in rows

    # The API.
    answer = api.get("/occupancy", query_string={"since": MON, "until": TUE})
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["sessions"], body["peak"], body["days"][0]) == (
        5,
        2,
        {"day": MON, "phones": 2, "peak": 2, "sessions": 3, "seconds": 18000},
    )
    assert body["phones"][0] == {"key": B, "sessions": 2, "seconds": 36000}
    assert body["extensions"][0] == {"key": "1001", "sessions": 2, "seconds": 43200}

    # The console: the summary, three charts with bars, the tables, the same CSV.
    page = console.page(f"/admin/occupancy?since={MON}&until={TUE}")
    assert page.get_element_by_id("sessions").text == "5"
    assert page.get_element_by_id("peak").text == "2"
    assert page.get_element_by_id("phones-unused").text == "1"
    for chart in ("chart-days", "chart-hours", "chart-phones"):
        bars = page.xpath(f"//*[@id='{chart}']//*[@class='bar']")
        assert bars and any(float(bar.get("height")) > 0 for bar in bars)
    assert len(page.xpath("//*[@id='chart-days']//*[@class='bar']")) == 2
    assert page.xpath("//table[@id='extensions']//tr[@data-extension='1001']/td/text()") == [
        "1001",
        "2",
        "12h00",
        "6h00",
    ]
    assert "Occupancy" in page.xpath("//nav//a/text()")
    exported = console.get(f"/admin/occupancy/export.csv?since={MON}&until={TUE}")
    assert exported.status_code == 200 and exported.content_type.startswith("text/csv")
    assert exported.get_data(as_text=True) == out.read_text()


def test_real_logins_and_logouts_are_counted(client, session, extensions, api):
    phone = YealinkPhone(client, "001565aabb61")
    phone.boot()
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"
    today = datetime.now(UTC).date().isoformat()
    body = api.get("/occupancy", query_string={"since": today, "until": today}).json
    assert (body["sessions"], body["ongoing"], body["peak"]) == (1, 1, 1)
    assert [p["key"] for p in body["phones"]] == ["001565aabb61"]
    assert api.post("/devices/001565aabb61/logout").status_code == 200
    body = api.get("/occupancy", query_string={"since": today, "until": today}).json
    assert (body["sessions"], body["ongoing"], body["days"][0]["phones"]) == (1, 0, 1)
    assert [e["key"] for e in body["extensions"]] == ["1001"]


def test_two_reports_at_once_count_each_event_once(engine, session, week):
    from hotdesk.db import make_session_factory

    sessions = make_session_factory(engine)
    registry = settings_registry()
    with sessions() as first, sessions() as second:
        occupancy.catch_up(first, registry)
        first.commit()
        assert occupancy.catch_up(second, registry) == 0  # nothing left
        second.commit()
    found = occupancy.report(session, registry, since=MON, until=TUE)
    assert found.sessions == 5
    assert timedelta(seconds=found.seconds) == timedelta(hours=14, minutes=30)


def test_the_history_summed_up_a_few_events_at_a_time_says_the_same(session, week, monkeypatch):
    monkeypatch.setattr(occupancy, "BATCH", 3)  # batches that split sessions, days and phones
    found = occupancy.report(session, settings_registry(), since=MON, until=TUE)
    assert [(d.phones, d.sessions, d.seconds, d.peak) for d in found.days] == [(2, 3, 18000, 2), (2, 2, 34200, 2)]
    assert [(u.key, u.sessions, u.seconds) for u in found.phones][:3] == [(B, 2, 36000), (A, 2, 14400), (C, 1, 1800)]
    assert [(u.key, u.sessions) for u in found.extensions] == [("1001", 2), ("1002", 1), ("1003", 1), ("1004", 1)]
    assert (found.hours[9].average, found.hours[9].peak) == (1.25, 2)
