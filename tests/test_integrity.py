"""What goes out is what the user approved, or what the interview says now, or nothing: every
change made while the worker is inside the SMTP transaction of the message before (the next one
claimed and rendered meanwhile) wins. On both databases; the server holds DATA on an event."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.config import load_settings
from service.delivery.outcomes import Summary
from service.models import FollowUp
from service.worker import Worker

JANE = "Jane Roe <jane@acme.example> | topic=the move to event sourcing"
BOB = "Bob Lee <bob@acme.example> | topic=the on-call rota"
AUTH = {"Authorization": "Bearer test-token-0123456789abcdefghij"}


@pytest.fixture
def setup(smtp, immediate_plan, monkeypatch, run, record_interview):
    """Two thank-yous due now (Jane's, then Bob's); the worker claims one at a time, so Bob's is
    claimed and rendered while Jane's is in DATA."""
    monkeypatch.setenv("FOLLOWUP_BATCH_SIZE", "1")
    run("migrate")
    return record_interview(contacts=(JANE, BOB))


def thank_you(db, address: str) -> FollowUp:
    with db.reading() as session:
        rows = session.scalars(select(FollowUp).where(FollowUp.step == "thank_you")).all()
        return next(f for f in rows if f.contact is not None and f.contact.email == address)


def to(server, address: str) -> list:
    return [r for r in server.received if address in r.rcpt_tos]


def text_of(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


class InData:
    """A worker pass in a thread, stopped where it matters: the first message held in DATA and
    the next one claimed and rendered. Leaving releases the server and waits for the pass."""

    def __init__(self, worker: Worker, server):
        self.worker, self.server = worker, server
        self.rendered = threading.Event()
        self.summary: Summary | None = None
        self.error: BaseException | None = None
        beat = worker.delivery.alive
        calls: list[datetime] = []

        def alive(now: datetime) -> None:  # called as each message is ready to go
            if beat is not None:
                beat(now)
            calls.append(now)
            if len(calls) == 2:
                self.rendered.set()

        worker.delivery.alive = alive

    def _pass(self) -> None:
        try:
            self.summary = self.worker.run_pass()
        except BaseException as exc:  # noqa: BLE001 - the test says so below
            self.error = exc

    def __enter__(self) -> InData:
        holding, self.release = self.server.recorder.hold_data()
        self.thread = threading.Thread(target=self._pass)
        self.thread.start()
        assert holding.wait(60), "no message reached DATA"
        assert self.rendered.wait(60), "the next message was not rendered"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(120)
        assert not self.thread.is_alive()
        assert self.error is None, self.error
        assert self.summary is not None  # the pass ended normally: the worker goes on


def worker(db, clock) -> Worker:
    return Worker(load_settings(), db, clock=clock)


# --- review on: the text approved last goes, or nothing -----------------------------------------


@pytest.fixture
def approved(setup, monkeypatch, run, db, smtp):
    """Review on: both thank-yous rendered, read and approved."""
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    assert run("worker", "--once").code == 0  # into the queue (and the digest to the user)
    for address in ("jane@acme.example", "bob@acme.example"):
        assert run("approve", str(thank_you(db, address).id)).code == 0
    smtp.recorder.received.clear()
    return thank_you(db, "bob@acme.example")


def test_an_edit_approved_through_the_api_while_the_worker_is_inside_data_is_what_goes(
    approved, web, db, clock, smtp
):
    w = worker(db, clock)
    with InData(w, smtp) as window:
        assert thank_you(db, "bob@acme.example").claimed_by == w.delivery.actor
        edited = web.put(
            f"/api/v1/followups/{approved.id}/text",
            json={"subject": "Thanks, Bob", "body": "Dear Bob,\n\nThe rota idea stayed with me.\n"},
            headers=AUTH,
        )
        assert edited.status_code == 200, edited.text
        ok = web.post(f"/api/v1/followups/{approved.id}/approve", headers=AUTH)
        assert ok.status_code == 200 and ok.json()["status"] == "approved", ok.text
    assert window.summary.sent == 1 and window.summary.changed == 1
    assert to(smtp, "bob@acme.example") == []  # the old text never went

    assert w.run_pass().sent == 1  # the next tick: the approved text
    [got] = to(smtp, "bob@acme.example")
    assert got.message["Subject"] == "Thanks, Bob"
    assert text_of(got) == "Dear Bob,\n\nThe rota idea stayed with me.\n"
    row = thank_you(db, "bob@acme.example")
    assert row.status == "sent" and row.subject == "Thanks, Bob"
    assert row.sent_bytes == got.data


def test_an_edit_saved_in_the_web_form_while_the_worker_is_inside_data_is_what_goes(
    approved, logged_in, db, clock, smtp
):
    from conftest import csrf_of

    w = worker(db, clock)
    with InData(w, smtp) as window:
        form = logged_in.get(f"/review/{approved.id}/edit")
        assert form.status_code == 200
        saved = logged_in.post(
            f"/review/{approved.id}/edit",
            data={
                "csrf": csrf_of(form.text),
                "subject": "Thanks again",
                "body": "Hi Bob,\n\nOK.\n",
            },
            follow_redirects=True,
        )
        assert "saved and approved" in saved.text
    assert window.summary.changed == 1 and to(smtp, "bob@acme.example") == []
    w.run_pass()
    [got] = to(smtp, "bob@acme.example")
    assert got.message["Subject"] == "Thanks again" and text_of(got) == "Hi Bob,\n\nOK.\n"


@pytest.mark.parametrize("action", ["reject", "cancel"])
def test_a_reject_or_cancel_while_the_worker_is_inside_data_sends_nothing(
    action, approved, run, db, clock, smtp
):
    w = worker(db, clock)
    with InData(w, smtp) as window:
        result = run(action, str(approved.id))
        assert result.code == 0, result.err
    assert window.summary.changed == 1
    w.run_pass()
    assert to(smtp, "bob@acme.example") == []
    assert thank_you(db, "bob@acme.example").status == {"reject": "rejected"}.get(
        action, "cancelled"
    )
    assert [r.rcpt_tos for r in smtp.received] == [["jane@acme.example"]]


# --- review off: what the interview says now, at the time it says --------------------------------


def test_a_new_greeting_and_topic_while_the_worker_is_inside_data_go_out(
    setup, run, db, clock, smtp
):
    w = worker(db, clock)
    with InData(w, smtp) as window:
        result = run(
            "interview", "update", str(setup["id"]),
            "--greeting", "bob@acme.example=Dear Dr. Lee",
            "--topic", "bob@acme.example=the incident reviews",
        )  # fmt: skip
        assert result.code == 0, result.err
    assert window.summary.changed == 1 and to(smtp, "bob@acme.example") == []
    assert w.run_pass().sent == 1
    [got] = to(smtp, "bob@acme.example")
    assert text_of(got).startswith("Dear Dr. Lee,")
    assert "the incident reviews" in text_of(got) and "on-call rota" not in text_of(got)


def test_a_new_time_while_the_worker_is_inside_data_waits_for_that_time(
    setup, run, db, clock, smtp
):
    later = clock().astimezone(UTC) + timedelta(days=7)
    w = worker(db, clock)
    with InData(w, smtp) as window:
        result = run(
            "interview", "update", str(setup["id"]), "--at", f"{later - timedelta(minutes=30):%Y-%m-%d %H:%M}",
        )  # fmt: skip
        assert result.code == 0, result.err
        assert "re-timed  thank_you to Bob Lee" in result.out + result.err
    assert window.summary.changed == 1
    w.run_pass()
    assert to(smtp, "bob@acme.example") == []
    bob = thank_you(db, "bob@acme.example")
    assert bob.status == "planned" and bob.due_at == later
    shown = {f["id"]: f for f in run("schedule", "--json").json()}
    assert shown[bob.id]["status"] == "planned"
    assert datetime.fromisoformat(shown[bob.id]["due_at"]) == later

    clock.set(later)
    assert w.run_pass().sent >= 1
    assert len(to(smtp, "bob@acme.example")) == 1


# --- no conflict crashes the worker ---------------------------------------------------------------


def test_a_follow_up_rejected_between_its_claim_and_its_load_is_an_outcome(
    approved, run, db, clock, smtp, monkeypatch, caplog
):
    """The worker claimed it (still approved), the user rejected it, then the worker loaded it."""
    import logging

    from service.delivery import engine

    caplog.set_level(logging.INFO, logger="service")
    original = engine.load

    def load_after_a_reject(database, ids):
        if approved.id in ids:
            assert run("reject", str(approved.id)).code == 0
        return original(database, ids)

    monkeypatch.setattr(engine, "load", load_after_a_reject)
    summary = worker(db, clock).run_pass()
    assert summary is not None and summary.sent == 1 and summary.changed == 1
    assert to(smtp, "bob@acme.example") == []
    assert thank_you(db, "bob@acme.example").status == "rejected"
    said = [r.getMessage() for r in caplog.records if f"follow-up {approved.id} " in r.getMessage()]
    assert said == [f"follow-up {approved.id} rejected meanwhile: not sent"]


# --- sent means the bytes that went out -----------------------------------------------------------


def test_preview_raw_of_a_sent_follow_up_is_byte_for_byte_what_the_server_received(
    setup, run, db, clock, smtp, web
):
    jane = thank_you(db, "jane@acme.example")
    with InData(worker(db, clock), smtp):
        assert thank_you(db, "jane@acme.example").status == "sending"
        clock.advance(timedelta(minutes=20))  # a re-render now would show another Date
    [got] = to(smtp, "jane@acme.example")
    row = thank_you(db, "jane@acme.example")
    assert row.status == "sent"
    shown = run("preview", str(jane.id), "--raw")
    assert shown.code == 0, shown.err
    assert shown.out.encode("utf-8") == got.data
    api = web.get(f"/api/v1/followups/{jane.id}", headers=AUTH).json()
    assert api["sent_raw"].encode("utf-8") == got.data
    assert run("preview", str(jane.id)).out.count(got.message["Date"]) == 1
