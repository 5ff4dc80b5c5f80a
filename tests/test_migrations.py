"""The migrations build exactly the schema the models describe, both ways, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from service.db import Database, downgrade, migrate, schema_status, table_names
from service.models import Base, Interview

APPLICATION_TABLES = set(Base.metadata.tables)


@pytest.fixture
def empty_url(backend, request, tmp_path) -> str:
    """The URL of an empty database of each kind."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_empty_url")


@pytest.fixture
def empty_db(empty_url):
    database = Database(empty_url)
    yield database
    database.dispose()


def differences(db: Database) -> list:
    """What autogenerate would change to make the database match the models."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_upgrading_an_empty_database_gives_exactly_the_models_and_downgrading_removes_them(
    empty_db,
):
    assert schema_status(empty_db)[0] is None

    migrate(empty_db)
    assert differences(empty_db) == []
    assert set(table_names(empty_db)) == APPLICATION_TABLES | {"alembic_version"}
    current, head = schema_status(empty_db)
    assert current == head

    downgrade(empty_db, "base")
    assert set(table_names(empty_db)) & APPLICATION_TABLES == set()
    assert schema_status(empty_db)[0] is None

    migrate(empty_db)
    assert differences(empty_db) == []


def test_followup_migrate_is_idempotent_and_keeps_the_data(empty_url, empty_db, run, tmp_path,
                                                           monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    env = {"FOLLOWUP_DATABASE_URL": empty_url}

    unmigrated = run("schedule", env=env)
    assert unmigrated.code == 2
    assert unmigrated.err.count("\n") == 1
    assert "run `followup migrate`" in unmigrated.err
    if empty_url.startswith("sqlite"):  # a read-only command never creates the file
        assert not Path(empty_url[len("sqlite:///") :]).exists()

    first = run("migrate", env=env)
    assert first.code == 0, first.err
    assert first.out.startswith("created the database at")
    added = run(
        "interview", "add", "--company", "Acme Corp", "--role", "Engineer",
        "--at", "2026-09-07 10:00", "--tz", "Europe/Berlin",
        "--contact", "Jane Roe <jane@acme.example>", env=env,
    )  # fmt: skip
    assert added.code == 0, added.err

    again = run("migrate", env=env)
    assert again.code == 0, again.err
    assert "is up to date" in again.out
    assert differences(empty_db) == []
    with empty_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Interview)).scalar_one() == 1
    assert run("schedule", env=env).code == 0


def test_the_code_knows_the_newest_migration():
    """`require_migrated` compares with SCHEMA_REVISION instead of asking Alembic."""
    from alembic.script import ScriptDirectory

    from service.db import SCHEMA_REVISION, alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head == SCHEMA_REVISION
