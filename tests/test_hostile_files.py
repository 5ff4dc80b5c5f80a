"""Hostile files to `import` and `inbox classify`: nested, huge or odd input answers in one line
(`import`: exit 2; `inbox classify`: an `error` result naming why, exit 1, issue 21), writes
nothing, and never raises a RecursionError (issue 20 #8, #9)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.db import Database
from service.models import Event, FollowUp, Interview

INVITE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:event-1@test.example\r\nDTSTAMP:20260901T080000Z\r\n"
    "SUMMARY:Interview: Acme Corp - Staff Engineer\r\nDTSTART:20260916T090000Z\r\n"
    "DTEND:20260916T100000Z\r\nORGANIZER;CN=Jane Roe:mailto:jane@acme.example\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def nested(depth: int, inner: str, container: str = "multipart/mixed") -> bytes:
    """A message whose invitation sits `depth` MIME containers deep."""
    body = inner
    for i in range(depth):
        if container == "message/rfc822":
            body = (
                "Content-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: fwd\r\n"
                f"MIME-Version: 1.0\r\n{body}"
            )
        else:
            body = f'Content-Type: {container}; boundary="b{i}"\r\n\r\n--b{i}\r\n{body}\r\n--b{i}--\r\n'
    head = "From: Jane Roe <jane@acme.example>\r\nTo: ada@candidate.example\r\nSubject: deep\r\n"
    return (head + "MIME-Version: 1.0\r\n" + body).encode()


CALENDAR_PART = f"Content-Type: text/calendar; method=REQUEST\r\n\r\n{INVITE}"


def stored(db_url: str) -> tuple[int, int, int]:
    db = Database(db_url)
    with db.reading() as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Interview, FollowUp, Event)
        )
    db.dispose()
    return counts  # type: ignore[return-value]


def one_line(result, words: str = "") -> None:
    assert result.code == 2, (result.out, result.err)
    assert result.err.count("\n") == 1 and result.err.startswith("followup: error: "), result.err
    assert words in result.err
    assert "Traceback" not in result.err and "Recursion" not in result.err


def classify_error(result, words: str = "") -> None:
    """`inbox classify` gave the file an `error` result naming why, and said so in one line."""
    assert result.code == 1, (result.out, result.err)
    assert result.err.count("\n") == 1 and result.err.startswith("followup: error: "), result.err
    assert ": error\n  because: " in result.out and words in result.out
    assert "Traceback" not in result.err + result.out and "Recursion" not in result.err


def test_a_message_nested_a_thousand_deep_is_refused_by_name(workdir, run, db_url, tmp_path):
    run("migrate")
    deep = tmp_path / "deep.eml"
    deep.write_bytes(nested(1000, CALENDAR_PART))
    before = stored(db_url)
    one_line(run("import", str(deep)), "deep.eml: holds more than 100 nested MIME parts")
    classify_error(run("inbox", "classify", str(deep)), "holds more than 100 nested MIME parts")
    assert stored(db_url) == before

    usual = tmp_path / "forwarded.eml"  # mail clients nest a handful: still read
    usual.write_bytes(nested(5, CALENDAR_PART))
    assert run("import", str(usual)).code == 0
    assert stored(db_url)[0] == 1
    assert run("inbox", "classify", str(usual)).code == 0


def test_dev_zero_is_refused_after_a_bounded_read(workdir, run, db_url, tmp_path):
    run("migrate")
    zero = tmp_path / "zero.eml"
    zero.symlink_to("/dev/zero")
    classify_error(run("inbox", "classify", "/dev/zero"), "larger than 50 MB")
    one_line(run("import", "/dev/zero"), "is not a file followup imports")
    one_line(run("import", str(zero)), "is a binary file")
    assert stored(db_url) == (0, 0, 0)


ODD = st.one_of(
    st.builds(
        nested,
        st.integers(101, 1500),
        st.sampled_from([CALENDAR_PART, "Content-Type: text/plain\r\n\r\nhi\r\n"]),
        st.sampled_from(["multipart/mixed", "multipart/alternative", "message/rfc822"]),
    ),
    st.binary(max_size=2000).map(lambda b: b"From: a@b.example\r\nSubject: x\r\n" + b),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=ODD, suffix=st.sampled_from([".eml", ".ics", ".csv"]))
def test_import_and_classify_answer_odd_files_in_one_line_and_write_nothing(
    workdir, run, db_url, tmp_path, data, suffix
):
    run("migrate")
    path = Path(tmp_path) / f"odd{suffix}"
    path.write_bytes(data)
    before = stored(db_url)
    for args in (("import", str(path)), ("inbox", "classify", str(path))):
        result = run(*args)
        refused = one_line if args[0] == "import" else classify_error
        if b'boundary="b100"' in data or data.count(b"message/rfc822") > 100:
            refused(result)  # over the bound: always refused
        else:
            assert result.code in (0, 1, 2), (args, result.err)
            if result.code != 0:
                refused(result)
        if args[0] == "import" and result.code == 2:
            assert stored(db_url) == before
