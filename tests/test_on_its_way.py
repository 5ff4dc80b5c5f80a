"""Issue 19: once a follow-up is on its way (`sending`) or gone, a change to it is refused in one
wording, in the user's zone, by the CLI (exit 2), the web pages (the message, nothing typed
lost) and the API (409); an interview update waits, a close says what could not be stopped.
And approve-all and the digest's links approve only the text the user saw. Both databases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import API_TOKEN, WEB_PASSWORD, csrf_of
from sqlalchemy import select

from service import events
from service.models import FollowUp, Status

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def thank_you(db, email: str = "jane@acme.example") -> int:
    from service.models import Contact

    with db.reading() as session:
        return session.scalar(
            select(FollowUp.id)
            .join(Contact, Contact.id == FollowUp.contact_id)
            .where(FollowUp.step == "thank_you", Contact.email == email)
        )


def put_on_the_wire(db, fid: int, clock, *, sent: bool = False) -> None:
    """What the worker does: its `sending` mark (and, once the server took it, `sent`)."""
    with db.transaction() as session:
        events.transition(
            session,
            fid,
            [Status.PLANNED],
            Status.SENDING,
            clock(),
            actor="worker@test",
            send_from=Status.PLANNED,
            claimed_by="worker@test",
            sending_started_at=clock(),
        )
        if sent:
            events.transition(
                session, fid, [Status.SENDING], Status.SENT, clock(), actor="worker@test",
                sent_at=clock(),
            )  # fmt: skip


def status_of(db, fid: int) -> str:
    with db.reading() as session:
        return session.scalar(select(FollowUp.status).where(FollowUp.id == fid))


# --- the wording ---------------------------------------------------------------------------------


def test_the_refusal_names_recipient_and_local_time_with_the_date_when_not_today(
    workdir, run, db, clock, record_interview
):
    from zoneinfo import ZoneInfo

    from service import underway

    record_interview()
    fid = thank_you(db)
    put_on_the_wire(db, fid, clock)  # 12:00 UTC is 14:00 in Europe/Berlin
    with db.reading() as session:
        row = underway.find(session, fid)
        berlin = ZoneInfo("Europe/Berlin")
        assert underway.on_its_way(row, berlin, clock()) == (
            f"follow-up {fid} is already on its way to jane@acme.example; sent at 14:00"
        )
        tomorrow = clock() + timedelta(days=1)
        assert underway.on_its_way(row, berlin, tomorrow).endswith("; sent at Tue 2026-09-01 14:00")


# --- CLI -------------------------------------------------------------------------------------


def test_cli_refuses_every_change_to_a_follow_up_on_its_way(
    workdir, run, db, clock, record_interview
):
    record_interview()
    fid = thank_you(db)
    put_on_the_wire(db, fid, clock)
    said = f"follow-up {fid} is already on its way to jane@acme.example; sent at 14:00"
    for args in (["cancel"], ["reject"], ["approve"], ["retry"]):
        result = run(*args, str(fid))
        assert (result.code, result.err) == (2, f"followup: error: {said}\n"), args
    assert status_of(db, fid) == Status.SENDING


def test_cli_says_a_sent_one_has_gone_with_its_date_on_a_later_day(
    workdir, run, db, clock, record_interview
):
    record_interview()
    fid = thank_you(db)
    put_on_the_wire(db, fid, clock, sent=True)
    clock.advance(timedelta(days=2))
    result = run("cancel", str(fid))
    assert result.code == 2
    assert result.err == (
        f"followup: error: follow-up {fid} has already gone to jane@acme.example; "
        "sent at Tue 2026-09-01 14:00\n"
    )
    assert status_of(db, fid) == Status.SENT


def test_interview_update_names_a_follow_up_on_its_way_and_close_says_so(
    workdir, run, db, clock, record_interview
):
    interview = record_interview(
        contacts=("Jane Roe <jane@acme.example>", "Carl Poe <carl@acme.example>")
    )
    iid = str(interview["id"])
    fid = thank_you(db)
    put_on_the_wire(db, fid, clock)
    update = run(
        "interview", "update", iid, "--greeting", "carl@acme.example=Dear Dr. Poe",
        "--topic", "carl@acme.example=the new pager rota",
    )  # fmt: skip
    # The rest take the change at once (a refusal would leave them going with the old text
    # while the user waits); the one on the wire is named, and goes as it was.
    assert update.code == 0, update.err
    assert (
        f"warning: follow-up {fid} is already on its way to jane@acme.example; sent at 14:00: "
        "it goes as it was; the change applies to the rest\n"
    ) in update.err
    shown = run("interview", "show", iid, "--json").json()
    carl = next(c for c in shown["contacts"] if c["email"] == "carl@acme.example")
    assert carl["greeting"] == "Dear Dr. Poe"
    assert status_of(db, fid) == Status.SENDING

    closed = run("interview", "close", iid, "--outcome", "offer")
    assert closed.code == 0 and f"interview {iid} closed (offer)" in closed.out
    assert closed.err == (
        f"follow-up {fid} is already on its way to jane@acme.example; sent at 14:00: it was not "
        "stopped (see `followup schedule --all`)\n"
    )
    assert status_of(db, fid) == Status.SENDING  # not stopped: its outcome is the worker's


# --- web and API -----------------------------------------------------------------------------


def test_web_and_api_refuse_a_follow_up_on_its_way_and_keep_what_was_typed(
    web, db, clock, record_interview
):
    interview = record_interview()
    fid = thank_you(db)
    put_on_the_wire(db, fid, clock)
    said = f"follow-up {fid} is already on its way to jane@acme.example; sent at 14:00"
    web.post("/login", data={"password": WEB_PASSWORD})

    form = web.get(f"/review/{fid}/edit").text
    typed = {"csrf": csrf_of(form), "subject": "Thanks, Jane", "body": "Dear Jane,\r\n\r\nMine."}
    refused = web.post(f"/review/{fid}/edit", data=typed)
    assert refused.status_code == 409
    assert said in refused.text
    assert 'value="Thanks, Jane"' in refused.text and "Mine." in refused.text
    cancelled = web.post(f"/followups/{fid}/cancel", data={"csrf": csrf_of(form)})
    assert said in cancelled.text

    for method, path, body in (
        ("post", "cancel", None),
        ("post", "reject", None),
        ("post", "approve", None),
        ("post", "retry", None),
        ("put", "text", {"subject": "Thanks", "body": "Dear Jane,\n\nMine.\n"}),
    ):
        response = getattr(web, method)(f"/api/v1/followups/{fid}/{path}", headers=AUTH, json=body)
        assert response.status_code == 409, path
        assert response.json() == {"errors": [{"field": None, "reason": said}]}, path
    patched = web.patch(
        f"/api/v1/interviews/{interview['id']}",
        headers=AUTH,
        json={"topics": ["jane@acme.example=on-call"]},
    )
    # An interview change goes to the rest and names the one that went as it was.
    assert patched.status_code == 200
    assert any(said in w for w in patched.json()["warnings"])
    assert status_of(db, fid) == Status.SENDING


# --- approve what was seen -------------------------------------------------------------------


@pytest.fixture
def three_waiting(web, run, clock, monkeypatch, record_interview):
    """Three thank-yous in the review queue; the client logged in."""
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    record_interview(
        contacts=(
            "Jane Roe <jane@acme.example> | topic=the move to event sourcing",
            "Bob Lee <bob@acme.example> | topic=how on-call works",
            "Carl Poe <carl@acme.example> | topic=the pager rota",
        )
    )
    clock.advance(timedelta(hours=20))
    assert run("worker", "--once").code == 0
    web.post("/login", data={"password": WEB_PASSWORD})
    items = web.get("/api/v1/followups", headers=AUTH, params={"status": "pending_review"}).json()[
        "items"
    ]
    assert len(items) == 3
    return [f["id"] for f in items]


def change_text(web, fid: int) -> None:
    response = web.put(
        f"/api/v1/followups/{fid}/text",
        headers=AUTH,
        json={"subject": "Changed", "body": "Dear Bob,\n\nSomeone else wrote this.\n"},
    )
    assert response.status_code == 200


def statuses(web) -> dict[int, str]:
    items = web.get("/api/v1/followups", headers=AUTH).json()["items"]
    return {f["id"]: f["status"] for f in items}


def test_approve_all_approves_only_the_text_the_page_showed(web, three_waiting):
    first, second, third = three_waiting
    confirm = web.get("/review/approve-all").text
    assert "Approve 3 follow-up(s)?" in confirm
    seen = re.findall(r'name="seen" value="(\d+:\w+)"', confirm)
    change_text(web, second)
    done = web.post("/review/approve-all", data={"csrf": csrf_of(confirm), "seen": seen})
    assert "2 follow-up(s) approved." in done.text
    assert (
        f"#{second} not approved: its text changed after you opened this page; review it again"
        in done.text
    )
    now = statuses(web)
    assert (now[first], now[second], now[third]) == ("approved", "pending_review", "approved")


def test_cli_approve_all_approves_only_the_text_it_checked(run, db, three_waiting, monkeypatch):
    from service import review

    first, second, third = three_waiting
    real = review.approve
    changed = []

    def approve_after_a_change(db_, fid, now, **kw):
        if fid == second and not changed:  # the text changes between reading and approving
            changed.append(fid)
            review.save_edit(db_, fid, "Changed", "Dear Bob,\n\nSomeone else.\n", now, actor="t")
        return real(db_, fid, now, **kw)

    monkeypatch.setattr(review, "approve", approve_after_a_change)
    result = run("approve", "--all")
    assert result.code == 2
    assert f"follow-up {second}: not approved: its text changed" in result.err
    assert f"follow-up {first}: approved" in result.out
    assert status_of(db, second) == Status.PENDING_REVIEW
    assert status_of(db, third) == Status.APPROVED


def digest_links(web) -> dict[int, str]:
    notes = web.get("/api/v1/followups", headers=AUTH).json()["items"]
    digest = next(f for f in notes if f["step"] == "review_digest")
    body = web.get(f"/api/v1/followups/{digest['id']}", headers=AUTH).json()["body"]
    links = re.findall(r"http://127\.0\.0\.1:8080(/approve/\S+)", body)
    shown = {}
    for link in links:
        page = web.get(link).text
        shown[int(re.search(r"Approve follow-up #(\d+)", page)[1])] = link
    return shown


def test_a_digest_link_does_not_approve_text_changed_after_the_digest(web, three_waiting):
    first, second, _third = three_waiting
    links = digest_links(web)
    page = web.get(links[first]).text
    seen = re.search(r'name="seen" value="(\w+)"', page)[1]
    change_text(web, first)  # after the page was opened
    change_text(web, second)  # before its link is opened
    said = "not approved: its text changed after this digest was written; review it again"

    response = web.post(links[first], data={"csrf": csrf_of(page), "seen": seen})
    assert response.status_code == 409 and f"#{first} {said}" in response.text
    opened = web.get(links[second])
    assert opened.status_code == 409 and f"#{second} {said}" in opened.text
    now = statuses(web)
    assert (now[first], now[second]) == ("pending_review", "pending_review")
