"""A CSV import of thousands of people costs a few statements a chunk of rows, not one or two a
row: on PostgreSQL each is a round trip, and 10,000 rows were 20,000 of them (bench/README.md,
"Softphone apps": 79 s, then 37 s for the issue's 10,000 users with generated passwords)."""

import secrets

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from hotdesk.cli import main
from hotdesk.models import Extension, User
from tests.test_published_answers import statements

ROWS = 1200


def test_importing_many_people_costs_statements_per_chunk_not_per_row(
    database_url, engine, session, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("HOTDESK_SECRET_KEY", "test-secret-key")
    people = tmp_path / "people.csv"
    rows = [f"{5000 + i},Person {i} Bench,Sip-{secrets.token_urlsafe(9)}-9a,p{i}@example.com" for i in range(ROWS)]
    rows[7] = "5007,Alice Martin,Str0ng-Secret-5007,alice@example.com"
    rows[8] = "5008,Alice Martin,Str0ng-Secret-5008,alice2@example.com"  # the same name: alice.martin.2
    people.write_text("extension,name,secret,email\n" + "\n".join(rows) + "\n")

    with statements(Engine) as sent:  # every engine: the CLI makes its own
        result = CliRunner().invoke(
            main, ["extensions", "import", str(people), "--passwords-out", str(tmp_path / "pw.csv")]
        )

    assert result.exit_code == 0, result.output
    assert f"{ROWS} extension(s) imported" in result.output
    selects = [statement for statement in sent if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) < 30, f"{len(selects)} SELECTs for {ROWS} rows"  # it was one a row
    if engine.dialect.name == "postgresql":  # where inserts go out in batches (SQLite: each row, in process)
        assert len(sent) < 150, f"{len(sent)} statements for {ROWS} rows"
    assert session.scalar(select(func.count()).select_from(User)) == ROWS
    joined = select(Extension.number, User.username).join(User, User.extension_id == Extension.id)
    made = dict(session.execute(joined).all())
    assert (made["5007"], made["5008"], made["5000"]) == ("alice.martin", "alice.martin.2", "person.0.bench")
    assert len((tmp_path / "pw.csv").read_text().splitlines()) == ROWS + 1
