"""The JSON API under /api/v1: the CLI's functions and validation behind a bearer token; errors
as JSON naming the field; times in ISO 8601 UTC; an OpenAPI document. On both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

NEW = {
    "company": "Acme Corp",
    "role": "Staff Engineer",
    "at": "2026-09-01 10:00",
    "tz": "America/New_York",
    "duration": "45m",
    "contacts": [
        "Jane Roe <jane@acme.example> | Engineering Manager | topic=the move to event sourcing",
        "Bob Lee <bob@acme.example> | topic=how on-call works",
    ],
    "questions": ["How is on-call organised?"],
}


@pytest.fixture
def api(web):
    web.headers.update(AUTH)
    return web


def test_create_an_interview_as_interview_add_does(api):
    response = api.post("/api/v1/interviews", json=NEW)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["company"] == "Acme Corp" and data["duration_minutes"] == 45
    assert data["starts_at"] == "2026-09-01T14:00:00Z"
    assert [c["email"] for c in data["contacts"]] == ["jane@acme.example", "bob@acme.example"]
    steps = {(f["step"], f["to"]) for f in data["followups"]}
    assert ("thank_you", "jane@acme.example") in steps and (
        "thank_you",
        "bob@acme.example",
    ) in steps
    assert all(f["due_at"].endswith("Z") for f in data["followups"])
    assert {c["action"] for c in data["changes"]} == {"added"}

    listed = api.get("/api/v1/interviews").json()["items"]
    assert [i["id"] for i in listed] == [data["id"]]
    assert api.get(f"/api/v1/interviews/{data['id']}").json()["followups"] == data["followups"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"tz": "Mars/Olympus"}, "tz", "time zone"),
        ({"at": "next tuesday"}, "at", "not a date and time"),
        ({"contacts": ["jane@acme.example"]}, "contacts", "has no name"),
        ({"duration": "45"}, "duration", "no unit"),
        ({"company": None}, "company", "missing"),
        ({"company": 5}, "company", "string"),
    ],
)
def test_bad_input_is_422_with_the_field_and_nothing_is_written(api, change, field, words):
    response = api.post("/api/v1/interviews", json=NEW | change)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == field and words in error["reason"], error
    assert api.get("/api/v1/interviews").json()["items"] == []


def test_update_re_times_and_close_cancels(api):
    created = api.post("/api/v1/interviews", json=NEW).json()
    moved = api.patch(f"/api/v1/interviews/{created['id']}", json={"at": "2026-09-02 10:00"})
    assert moved.status_code == 200, moved.text
    assert {c["action"] for c in moved.json()["changes"]} == {"retimed"}
    dry = api.patch(
        f"/api/v1/interviews/{created['id']}", json={"at": "2026-09-03 10:00", "dry_run": True}
    ).json()
    assert dry["dry_run"] is True and dry["changes"]
    closed = api.post(f"/api/v1/interviews/{created['id']}/close", json={"outcome": "offer"})
    assert closed.json()["cancelled"] == len(created["followups"])
    again = api.post(f"/api/v1/interviews/{created['id']}/close", json={"outcome": "offer"})
    assert again.status_code == 409 and "already offer" in again.json()["errors"][0]["reason"]
    bad = api.post(f"/api/v1/interviews/{created['id']}/close", json={"outcome": "maybe"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "outcome"


def test_follow_ups_list_with_filters_and_pages(api):
    first = api.post("/api/v1/interviews", json=NEW).json()
    api.post("/api/v1/interviews", json=NEW | {"company": "Globex", "at": "2026-09-08 10:00"})
    everything = api.get("/api/v1/followups").json()
    assert everything["next"] is None
    ids = [f["id"] for f in everything["items"]]
    dues = [f["due_at"] for f in everything["items"]]
    assert dues == sorted(dues) and len(ids) >= 8

    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/followups", params={"limit": 3, "cursor": cursor} if cursor
                       else {"limit": 3}).json()  # fmt: skip
        seen += [f["id"] for f in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids

    mine = api.get("/api/v1/followups", params={"interview_id": first["id"]}).json()["items"]
    assert {f["interview_id"] for f in mine} == {first["id"]}
    planned = api.get("/api/v1/followups", params={"status": "planned"}).json()["items"]
    assert len(planned) == len(ids)
    assert api.get("/api/v1/followups", params={"status": "sent"}).json()["items"] == []
    later = api.get("/api/v1/followups", params={"since": "2026-09-10T00:00:00Z"}).json()
    assert all(f["due_at"] >= "2026-09-10T00:00:00Z" for f in later["items"])
    for params, field in (({"status": "nope"}, "status"), ({"cursor": "%%%"}, "cursor"),
                          ({"since": "yesterday"}, "since"), ({"limit": 0}, "limit")):  # fmt: skip
        response = api.get("/api/v1/followups", params=params)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


@pytest.fixture
def queued(api, workdir, run, clock, monkeypatch):
    """Two thank-yous waiting in the review queue (the worker put them there)."""
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    start = clock() - timedelta(hours=2)
    created = api.post(
        "/api/v1/interviews", json=NEW | {"at": f"{start:%Y-%m-%d %H:%M}", "tz": "UTC"}
    ).json()
    clock.set(datetime(2026, 9, 2, 8, 0, tzinfo=UTC))
    assert run("worker", "--once").code == 0
    waiting = api.get("/api/v1/followups", params={"status": "pending_review"}).json()["items"]
    assert {f["interview_id"] for f in waiting} == {created["id"]} and len(waiting) == 2
    return [f["id"] for f in waiting]


def test_approve_reject_and_edit_with_the_review_rules(api, queued, clock):
    first, second = queued
    shown = api.get(f"/api/v1/followups/{first}").json()
    assert shown["body"].startswith("Dear Jane") and shown["content_hash"]
    stale = api.post(f"/api/v1/followups/{first}/approve", json={"content_hash": "0" * 64})
    assert stale.status_code == 409 and "changed since you saw it" in stale.text
    approved = api.post(
        f"/api/v1/followups/{first}/approve", json={"content_hash": shown["content_hash"]}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    twice = api.post(f"/api/v1/followups/{first}/approve")
    assert twice.status_code == 409 and "is approved" in twice.json()["errors"][0]["reason"]

    edited = api.put(
        f"/api/v1/followups/{second}/text",
        json={"subject": "Thank you, Bob", "body": "Dear Bob,\n\nThanks!\n\nAda"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == "Dear Bob,\n\nThanks!\n\nAda\n"
    assert edited.json()["status"] == "pending_review"
    assert [e["kind"] for e in edited.json()["events"]][-1] == "edited"
    braces = api.put(
        f"/api/v1/followups/{second}/text", json={"subject": "Hi {{ x }}", "body": "text"}
    )
    assert braces.status_code == 422 and "braces" in braces.json()["errors"][0]["reason"]
    assert api.post(f"/api/v1/followups/{second}/reject").json()["status"] == "rejected"
    assert api.post(f"/api/v1/followups/{second}/retry").status_code == 422
    assert api.post(f"/api/v1/followups/{first}/cancel").json()["status"] == "cancelled"
    assert api.post("/api/v1/followups/999999/approve").status_code == 404


def test_the_openapi_document_names_the_public_paths(api):
    document = api.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path, method in [
        ("/api/v1/interviews", "get"),
        ("/api/v1/interviews", "post"),
        ("/api/v1/followups", "get"),
        ("/api/v1/followups/{followup_id}", "get"),
        ("/api/v1/followups/{followup_id}/approve", "post"),
        ("/api/v1/followups/{followup_id}/reject", "post"),
        ("/api/v1/followups/{followup_id}/retry", "post"),
        ("/api/v1/followups/{followup_id}/cancel", "post"),
        ("/api/v1/followups/{followup_id}/text", "put"),
    ]:
        assert method in paths[path], (path, method)
    assert not any(p.startswith(("/review", "/login", "/approve")) for p in paths)
    assert "HTTPBearer" in document["components"]["securitySchemes"]
