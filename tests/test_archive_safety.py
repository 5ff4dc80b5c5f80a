"""Exports and backups carry no live secret, and load/restore lose nothing silently: a file cut
short, changed, damaged or hostile is refused whole, in one line, with nothing written."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import warnings
from datetime import timedelta

import pytest
from conftest import API_TOKEN, csrf_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select

from service.archive import portable, scrub
from service.db import Database

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LINK = re.compile(r"/approve/[A-Za-z0-9_\-.]+")


def _queue_two(run, clock, monkeypatch, record_interview) -> None:
    """Two thank-yous wait for review; the worker writes a digest with their approve links."""
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    record_interview(
        contacts=(
            "Jane Roe <jane@acme.example> | topic=the move to event sourcing",
            "Bob Lee <bob@acme.example> | topic=how on-call works",
        )
    )
    clock.advance(timedelta(hours=20))
    assert run("worker", "--once").code == 0


def _live_links(client) -> list[str]:
    notes = client.get("/api/v1/followups", headers=AUTH).json()["items"]
    digest = next(f for f in notes if f["step"] == "review_digest")
    body = client.get(f"/api/v1/followups/{digest['id']}", headers=AUTH).json()["body"]
    return LINK.findall(body)


def _client(db_url: str, clock):
    from fastapi.testclient import TestClient

    from service.config import load_settings
    from service.web.app import create_app

    app = create_app(load_settings(), Database(db_url), clock=clock)
    return TestClient(app, base_url="http://127.0.0.1:8080")


def _links_in(path) -> set[str]:
    """Every approve link a file holds: in its text, its base64 columns, across soft breaks."""
    data = path.read_bytes()
    texts = [data]
    if not data.startswith(b"SQLite format 3"):
        for line in data.decode("utf-8").splitlines()[1:-1]:
            for value in json.loads(line)["row"].values():
                if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9+/]{16,}=*", value):
                    texts.append(base64.b64decode(value))
    found = set()
    for text in texts:
        joined = text.replace(b"=\r\n", b"").replace(b"=\n", b"")
        found |= {m.decode() for m in re.findall(rb"/approve/[A-Za-z0-9_\-.]+", joined)}
    return found


def test_no_export_or_backup_holds_a_working_approve_link_nor_brings_one_back(
    web, run, clock, monkeypatch, record_interview, tmp_path, db_url, backend, request
):
    _queue_two(run, clock, monkeypatch, record_interview)
    live = _live_links(web)
    assert len(live) == 2 and web.get(live[0]).status_code == 200  # they work, here

    printed = run("export", "--json")
    assert printed.code == 0, printed.err
    (tmp_path / "printed.jsonl").write_text(printed.out)
    assert run("export", "--json", "--out", str(tmp_path / "out.jsonl")).code == 0
    backup = tmp_path / ("backup.db" if backend == "sqlite" else "backup.jsonl")
    assert run("backup", "--out", str(backup)).code == 0
    for name in ("printed.jsonl", "out.jsonl", backup.name):
        path = tmp_path / name
        found = _links_in(path)
        assert found == {"/approve/removed"}, (name, found)  # the digest is kept, its links cut
        for token in live:
            assert token.split("/")[-1].split(".")[0].encode() not in path.read_bytes()
        for link in found:
            assert web.get(link).status_code == 410
    if backend == "sqlite":
        with sqlite3.connect(backup) as conn:
            for table in scrub.SECRET_TABLES:
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)

    # A restore brings no link back: into a new database, and over this one (--force).
    target = (
        f"sqlite:///{tmp_path / 'restored.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_empty_url")
    )
    assert run("restore", str(backup), env={"FOLLOWUP_DATABASE_URL": target}).code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _client(target, clock) as restored:
            for link in [*live, "/approve/removed"]:
                assert restored.get(link).status_code == 410
    forced = run("restore", str(backup), "--force", env={"FOLLOWUP_DATA_DIR": str(tmp_path / "d")})
    assert forced.code == 0, forced.err
    for link in live:  # the old links would approve the restored follow-ups of their ids
        response = web.get(link)
        assert response.status_code == 410 and "not valid" in response.text


def test_a_quoted_printable_message_loses_its_links_across_soft_line_breaks():
    from service.messages import _text_part

    token = "A" * 24 + "." + "b" * 43 + "." + "C" * 24
    text = f"Approve Jane's thank-you: http://127.0.0.1:8080/approve/{token} — or open the queue"
    headers, body = _text_part(text, "plain")
    raw = "\r\n".join(headers).encode() + b"\r\n\r\n" + body.encode("ascii")
    assert b"=\r\n" in raw and token.encode() not in raw  # the link is cut by a soft break
    scrubbed = scrub.raw(raw)
    assert token[:20].encode() not in scrubbed and b"/approve/removed" in scrubbed
    assert scrub.text(text) == text.replace(token, "removed")


# --- the trailer: a file cut short or changed is refused whole --------------------------------


def _export(run, record_interview, tmp_path) -> list[str]:
    record_interview()
    assert run("worker", "--once").code == 0
    path = tmp_path / "all.jsonl"
    assert run("export", "--json", "--out", str(path)).code == 0
    return path.read_text().splitlines()


def _count(db_url: str) -> int:
    db = Database(db_url)
    try:
        with db.reading() as session:
            there = inspect(session.connection()).get_table_names()
            chosen = [t for t in portable.tables() if t.name in there]
            return sum(session.scalar(select(func.count()).select_from(t)) for t in chosen)
    finally:
        db.dispose()


def _target(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return request.getfixturevalue("pg_empty_url")


def _retrail(lines: list[str]) -> list[str]:
    """The lines with their header counts and trailer made to match (a deliberate edit)."""
    header = json.loads(lines[0])
    rows = [json.loads(line) for line in lines[1:-1]]
    header["rows"] = {t: sum(r["table"] == t for r in rows) for t in header["tables"]}
    body = [json.dumps(header), *lines[1:-1]]
    digest = hashlib.sha256("".join(line + "\n" for line in body).encode()).hexdigest()
    return [*body, json.dumps({"trailer": {"rows": header["rows"], "sha256": digest}})]


def test_a_cut_or_changed_export_is_refused_by_load_and_restore_and_nothing_is_written(
    workdir, run, clock, record_interview, tmp_path, backend, request
):
    lines = _export(run, record_interview, tmp_path)
    events = sum('"table": "events"' in line for line in lines)
    assert events >= 2
    target = _target(backend, tmp_path, request)
    env = {"FOLLOWUP_DATABASE_URL": target}
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:-2]) + "\n")  # `head -n`: the last event and the trailer gone
    for command in ("load", "restore"):
        refused = run(command, str(cut), env=env)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
        assert f"ends after {events - 1} of {events} events: it was cut" in refused.err
        assert "nothing was loaded" in refused.err
    no_trailer = tmp_path / "no-trailer.jsonl"
    no_trailer.write_text("\n".join(lines[:-1]) + "\n")
    assert "has no trailer" in run("load", str(no_trailer), env=env).err
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join([*lines[:-1], lines[-1]]).replace("Acme Corp", "Acme Inc") + "\n")
    refused = run("load", str(changed), env=env)
    assert refused.code == 2 and "was changed after it was written" in refused.err
    # --accept-untrailed is for files of older followups: it does not pass a cut one.
    assert run("load", str(cut), "--accept-untrailed", env=env).code == 2
    assert _count(target) == 0

    # Edited by a Windows editor (a BOM, CRLF line ends): the same rows, it loads.
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    loaded = run("load", str(edited), env=env)
    assert loaded.code == 0, loaded.err
    assert run("schedule", "--all", "--json", env=env).out == run("schedule", "--all", "--json").out


def test_rows_the_database_refuses_are_a_usage_error_and_nothing_is_written(
    workdir, run, clock, record_interview, tmp_path, backend, request
):
    lines = _export(run, record_interview, tmp_path)
    target = _target(backend, tmp_path, request)
    orphan = [
        json.dumps({**item, "row": {**item["row"], "interview_id": 999}})
        if item.get("table") == "contacts"
        else line
        for line, item in ((line, json.loads(line)) for line in lines)
    ]
    path = tmp_path / "orphan.jsonl"
    path.write_text("\n".join(_retrail(orphan)) + "\n")
    refused = run("load", str(path), env={"FOLLOWUP_DATABASE_URL": target})
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert "the database refused its rows (table contacts)" in refused.err
    assert _count(target) == 0


def test_a_damaged_backup_or_an_unknown_schema_is_named_as_such(
    workdir, run, clock, record_interview, tmp_path, backend, request
):
    laptop = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'laptop.db'}"}
    assert run("migrate", env=laptop).code == 0
    added = run("interview", "add", "--company", "Acme", "--role", "Engineer", "--tz", "UTC",
                "--at", "2026-09-07 10:00", "--contact", "Jane Roe <jane@acme.example>",
                env=laptop)  # fmt: skip
    assert added.code == 0, added.err
    good = tmp_path / "good.db"
    assert run("backup", "--out", str(good), env=laptop).code == 0
    target = {"FOLLOWUP_DATABASE_URL": _target(backend, tmp_path, request)}
    data = bytearray(good.read_bytes())
    data[4096:] = b"\x5a" * (len(data) - 4096)  # the header page kept, the rest overwritten
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(bytes(data))
    refused = run("restore", str(damaged), env=target)
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert f"{damaged} is a damaged backup" in refused.err and "database error" not in refused.err

    with sqlite3.connect(good) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'abc'")
    refused = run("restore", str(good), env=target)
    assert refused.code == 2 and "names no database schema" in refused.err
    assert "newer" not in refused.err
    header = {"format": "followup-export", "version": 2, "schema": "abc", "tables": [], "rows": {}}
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps(header) + "\n")
    refused = run("load", str(odd), env=target)
    assert refused.code == 2 and "names no database schema" in refused.err


# --- bounded input ----------------------------------------------------------------------------


def test_a_device_a_folder_or_endless_input_is_refused_in_one_line(workdir, run, tmp_path):
    target = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'target.db'}"}
    for command, source in (("load", "/dev/zero"), ("restore", "/dev/zero"), ("load", "/tmp")):
        refused = run(command, source, env=target)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
        assert "not a regular file" in refused.err or "Is a directory" in refused.err
    zeros = run("load", "-", input="\0" * (100 * 1024), env=target)  # `load - < /dev/zero`
    assert zeros.code == 2 and "longer than 64 KiB" in zeros.err
    assert not (tmp_path / "target.db").exists()  # not even the database was made


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_refused_in_one_line(workdir, run, tmp_path, depth, db_url):
    header = {"format": "followup-export", "version": 2, "schema": "0009",
              "tables": ["interviews"], "rows": {"interviews": 1}}  # fmt: skip
    nested = "[" * depth + "]" * depth
    row = '{"table": "interviews", "row": {"id": 1, "company": ' + nested + "}}"
    path = tmp_path / "nested.jsonl"
    path.write_text(json.dumps(header) + "\n" + row + "\n")
    refused = run("load", str(path))
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert "line 2: not a row of a followup export" in refused.err
    assert _count(db_url) == 0


# --- a digest link survives a refused approval ------------------------------------------------


def test_a_digest_link_is_not_used_up_when_its_approval_is_refused(
    web, run, clock, monkeypatch, record_interview, db_url
):
    from service.models import FollowUp

    _queue_two(run, clock, monkeypatch, record_interview)
    link = _live_links(web)[0]
    shown = web.get(link)
    fid = int(re.search(r"Approve follow-up #(\d+)", shown.text)[1])
    db = Database(db_url)

    def status(value: str) -> None:
        with db.transaction() as session:
            session.execute(
                FollowUp.__table__.update().where(FollowUp.id == fid).values(status=value)
            )

    status("planned")  # for a moment not waiting for review (as between two ticks)
    refused = web.post(link, data={"csrf": csrf_of(shown.text)})
    assert refused.status_code == 409 and "not approved" in refused.text
    status("pending_review")
    approved = web.post(link, data={"csrf": csrf_of(shown.text)})
    assert approved.status_code == 200 and "is approved" in approved.text
    again = web.post(link, data={"csrf": csrf_of(shown.text)})
    assert again.status_code == 410 and "was used already" in again.text
    db.dispose()


# --- property: whatever the file, load answers in one line and writes nothing ----------------

HEADER = json.dumps({"format": "followup-export", "version": 2, "schema": "0009",
                     "tables": ["interviews"], "rows": {"interviews": 1}})  # fmt: skip
_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)
_lines = st.one_of(
    st.text(max_size=200),  # odd text
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n),  # nested
    st.integers(1, 5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.builds(
        lambda table, row: json.dumps({"table": table, "row": row}),
        st.sampled_from(["interviews", "contacts", "followups", "nope"]),
        st.dictionaries(st.sampled_from(["id", "company", "starts_at", "questions", "x"]), _values),
    ),
    st.just('{"trailer": {"rows": {"interviews": 1}, "sha256": "0"}}'),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=st.sampled_from([HEADER, "\ufeff" + HEADER, "", "{}", "[" * 3000]),
       rest=st.lists(_lines, max_size=4))  # fmt: skip
def test_load_of_odd_nested_or_huge_input_exits_2_in_one_line_and_writes_nothing(
    workdir, run, db_url, first, rest
):
    result = run("load", "-", input="\n".join([first, *rest]) + "\n")
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert _count(db_url) == 0


@pytest.mark.parametrize("year", ["0001", "9999"])
def test_a_date_outside_2000_2099_in_a_file_is_refused_as_the_cli_refuses_it(
    workdir, run, clock, record_interview, tmp_path, backend, request, year
):
    lines = _export(run, record_interview, tmp_path)
    odd = []
    for line in lines:
        item = json.loads(line)
        if item.get("table") == "interviews":
            at = item["row"]["starts_at"]
            item["row"]["starts_at"] = year + at[4:]
            line = json.dumps(item)
        odd.append(line)
    path = tmp_path / "odd-year.jsonl"
    path.write_text("\n".join(_retrail(odd)) + "\n")
    target = _target(backend, tmp_path, request)
    refused = run("load", str(path), env={"FOLLOWUP_DATABASE_URL": target})
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert "is not between the years 2000 and 2099" in refused.err
    assert _count(target) == 0
