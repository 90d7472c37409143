"""`hotdesk occupancy`: how the desks were used, per day and per hour, per phone and per extension."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from hotdesk.admin import occupancy
from hotdesk.cli.base import Context, main, tenant_id_of, tenant_option, with_session


@main.command("occupancy")
@click.option("--since", default=None, help="YYYY-MM-DD, the first day (default: six days before --until)")
@click.option("--until", default=None, help="YYYY-MM-DD, the last day (default: today)")
@click.option(
    "--csv",
    "csv_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="write the whole report as CSV to FILE (- for standard output)",
)
@tenant_option
@with_session
def occupancy_report(
    ctx: Context, session: Session, since: str | None, until: str | None, csv_file: Path | None, tenant_name: str | None
) -> None:
    """Phones in use, most logged in at once and session lengths per day, the hours of the day, the
    most and least used phones and each extension's sessions (days in the `timezone` setting)."""
    found = occupancy.report(
        session, ctx.settings, since=since, until=until, tenant_id=tenant_id_of(session, tenant_name)
    )
    if csv_file is not None:
        text = occupancy.to_csv(found)
        if str(csv_file) == "-":
            click.echo(text, nl=False)
        else:
            csv_file.write_text(text)
        return
    span = found.range
    click.echo(f"{span.since} to {span.until} ({found.timezone})")
    click.echo(
        f"sessions: {found.sessions}, average {_duration(found.average_seconds)}; most logged in at once: "
        f"{found.peak}; phones used: {found.phones_used} of {len(found.phones)}"
    )
    click.echo("day\tphones\tpeak\tsessions\taverage")
    for day in found.days:
        average = day.seconds // day.sessions if day.sessions else 0
        click.echo(f"{day.day}\t{day.phones}\t{day.peak}\t{day.sessions}\t{_duration(average)}")
    click.echo("hour\taverage logged in\tpeak")
    for hour in found.hours:
        click.echo(f"{hour.hour:02d}:00\t{hour.average}\t{hour.peak}")
    for title, uses in (("most used phones", found.most_used), ("least used phones", found.least_used)):
        click.echo(f"{title}:")
        for use in uses:
            click.echo(f"  {use.key}\t{use.sessions} session(s)\t{_duration(use.seconds)}")
    click.echo(f"unused phones: {len(found.unused)}")
    click.echo("extension\tsessions\ttotal\taverage")
    for use in found.extensions:
        click.echo(f"{use.key}\t{use.sessions}\t{_duration(use.seconds)}\t{_duration(use.average_seconds)}")


def _duration(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
