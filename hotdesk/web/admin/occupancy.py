"""Occupancy: how the desks were used, as charts drawn on the server (SVG: no script, no library)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, render_template, request

from hotdesk.admin import AdminError, occupancy
from hotdesk.web import db, hotdesk, tenant_id
from hotdesk.web.admin.base import bp, csv_download

WIDTH, HEIGHT, MARGIN = 760, 200, 28  # a chart's box, and room for its axis labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # shown on hover, and read by screen readers


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    line: str  # the points of a polyline over the bars (the peak), or ""
    top: float  # the value at the top of the axis
    labels: list[tuple[float, str]]  # x, text under the axis (a few, not every bar)
    width: int = WIDTH
    height: int = HEIGHT
    margin: int = MARGIN


def chart(values: list[float], titles: list[str], labels: list[str], line: list[float] | None = None) -> Chart:
    """Bars for `values` (and a line for `line`) scaled into the box, left to right."""
    top = max([*values, *(line or []), 1])
    inner_width, inner_height = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    step = inner_width / max(len(values), 1)
    bars = []
    for n, (value, title) in enumerate(zip(values, titles, strict=True)):
        height = inner_height * value / top
        bars.append(Bar(MARGIN + n * step + step * 0.1, MARGIN + inner_height - height, step * 0.8, height, title))
    points = " ".join(
        f"{MARGIN + n * step + step / 2:.1f},{MARGIN + inner_height - inner_height * value / top:.1f}"
        for n, value in enumerate(line or [])
    )
    every = max(1, len(labels) // 12)
    shown = [(MARGIN + n * step + step / 2, label) for n, label in enumerate(labels) if n % every == 0]
    return Chart(bars, points, top, shown)


def hours_text(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def _report() -> occupancy.Report:
    since, until = (request.args.get(name) or None for name in ("since", "until"))
    return occupancy.report(db(), hotdesk().settings, since=since, until=until, tenant_id=tenant_id())


@bp.get("/occupancy")
def occupancy_view():
    try:
        found = _report()
    except AdminError as error:  # the form again, as typed, to correct it
        flash(str(error), "error")
        return render_template("admin/occupancy.html", found=None, args=request.args), 400
    days = chart(
        [day.phones for day in found.days],
        [f"{day.day}: {day.phones} phone(s) in use, at most {day.peak} at once" for day in found.days],
        [f"{day.day:%d %b}" for day in found.days],
        line=[day.peak for day in found.days],
    )
    hours = chart(
        [hour.average for hour in found.hours],
        [f"{hour.hour:02d}:00: {hour.average} logged in on average, at most {hour.peak}" for hour in found.hours],
        [f"{hour.hour:02d}" for hour in found.hours],
        line=[hour.peak for hour in found.hours],
    )
    phones = found.most_used + [use for use in found.least_used if use not in found.most_used]
    return render_template(
        "admin/occupancy.html",
        found=found,
        args=request.args,
        days=days,
        hours=hours,
        phones=chart(
            [use.seconds / 3600 for use in phones],
            [f"{use.key}: {use.sessions} session(s), {hours_text(use.seconds)}" for use in phones],
            [use.key[-4:] for use in phones],
        ),
        ranked=phones,
        hours_text=hours_text,
    )


@bp.get("/occupancy/export.csv")
def occupancy_export():
    try:
        found = _report()
    except AdminError as error:
        flash(str(error), "error")
        return render_template("admin/occupancy.html", found=None, args=request.args), 400
    return csv_download(iter([occupancy.to_csv(found)]), "occupancy.csv")
