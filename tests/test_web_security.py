"""The web app is the user's own: a password (rate-limited), sessions with safe cookies, CSRF
tokens, Origin and Host checks, a CSP, escaped user data, and an API that needs its token.
HTTP-level tests against the ASGI app, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import API_TOKEN, WEB_PASSWORD, csrf_of

from service.db import Database
from service.models import Contact
from service.web import security

XSS = "<script>alert(1)</script>"


def test_pages_need_a_login_and_send_the_browser_to_it(web):
    for path in ("/", "/review", "/interviews", "/setup", "/followups/1"):
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


def test_login_sets_a_strict_http_only_cookie_that_expires_and_logout_ends_it(web, clock):
    wrong = web.post("/login", data={"password": "not it"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "Wrong password" in wrong.text
    response = web.post(
        "/login", data={"password": WEB_PASSWORD, "next": "/interviews"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/interviews"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
    assert "secure" not in cookie  # plain http on loopback: the browser would drop a Secure one
    assert web.get("/").status_code == 200

    page = web.get("/").text
    assert (
        web.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False).status_code == 303
    )
    assert web.get("/", follow_redirects=False).status_code == 303

    web.post("/login", data={"password": WEB_PASSWORD})
    assert web.get("/", follow_redirects=False).status_code == 200
    clock.advance(security.SESSION_LIFETIME + timedelta(seconds=1))
    assert web.get("/", follow_redirects=False).status_code == 303


def test_cookies_are_secure_behind_https(web):
    response = web.post(
        "https://127.0.0.1:8080/login", data={"password": WEB_PASSWORD}, follow_redirects=False
    )
    assert "secure" in response.headers["set-cookie"].lower()


def test_login_never_redirects_to_another_site(web):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = web.post(
            "/login", data={"password": WEB_PASSWORD, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/"


def test_failed_logins_are_rate_limited_per_address_then_allowed_again(web, clock):
    for _ in range(security.MAX_FAILURES):
        assert web.post("/login", data={"password": "guess"}).status_code == 401
    blocked = web.post("/login", data={"password": WEB_PASSWORD}, follow_redirects=False)
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text
    assert "followup_session" not in blocked.headers.get("set-cookie", "")
    clock.advance(security.FAILURE_WINDOW)
    assert (
        web.post("/login", data={"password": WEB_PASSWORD}, follow_redirects=False).status_code
        == 303
    )


def test_a_set_password_must_match_and_a_generated_one_is_shown_once_and_kept_hashed(db):
    now = datetime(2026, 9, 1, tzinfo=UTC)
    made = security.generated_password(db, now)
    assert made and len(made) == 19
    assert security.generated_password(db, now) is None  # shown once, never again
    from service.models import WebSecret

    with db.reading() as session:
        stored = session.get(WebSecret, security.PASSWORD_SECRET).value
    assert made not in stored and stored.startswith("scrypt$")
    check = security.Password(db, None)
    assert check.check(made) and not check.check(made.upper()) and not check.check("")
    renewed = security.generated_password(db, now, renew=True)
    assert renewed != made and check.check(renewed) and not check.check(made)
    assert security.Password(db, WEB_PASSWORD).check(WEB_PASSWORD)


def test_a_post_without_the_csrf_token_is_refused(logged_in, record_interview):
    interview = record_interview()
    fid = interview["followups"][0]["id"]
    for data in ({}, {"csrf": "forged"}):
        refused = logged_in.post(f"/followups/{fid}/cancel", data=data)
        assert refused.status_code == 403
        assert "Form refused" in refused.text
    assert logged_in.get(f"/followups/{fid}").text.count("cancelled") == 0
    page = logged_in.get(f"/followups/{fid}").text
    done = logged_in.post(f"/followups/{fid}/cancel", data={"csrf": csrf_of(page)})
    assert done.status_code == 200 and "is cancelled" in done.text


def test_a_post_from_another_origin_is_refused(logged_in, record_interview):
    fid = record_interview()["followups"][0]["id"]
    token = csrf_of(logged_in.get("/").text)
    for header in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"},
                   {"Origin": "http://127.0.0.1:9999"}, {"Origin": "null"}):  # fmt: skip
        refused = logged_in.post(f"/followups/{fid}/cancel", data={"csrf": token}, headers=header)
        assert refused.status_code == 403, header
        assert "another site" in refused.text
    same = logged_in.post(
        f"/followups/{fid}/cancel",
        data={"csrf": token},
        headers={"Origin": "http://127.0.0.1:8080"},
    )
    assert same.status_code == 200


def test_a_wrong_host_header_is_refused_against_dns_rebinding(logged_in):
    for path in ("/", "/login", "/api/v1/followups"):
        response = logged_in.get(path, headers={"Host": "evil.example:8080"})
        assert response.status_code == 400
        assert "FOLLOWUP_WEB_ALLOWED_HOSTS" in response.text
    assert logged_in.get("/", headers={"Host": "localhost:8080"}).status_code == 200


def test_the_allowed_hosts_setting_replaces_the_default(web_env, db, clock, monkeypatch):
    from fastapi.testclient import TestClient

    from service.config import load_settings
    from service.web.app import create_app

    monkeypatch.setenv("FOLLOWUP_WEB_ALLOWED_HOSTS", "followup.example.org")
    app = create_app(load_settings(), db, clock=clock)
    with TestClient(app, base_url="https://followup.example.org") as client:
        assert client.get("/login").status_code == 200
        assert client.get("/login", headers={"Host": "127.0.0.1:8080"}).status_code == 400


def test_every_page_carries_a_csp_without_inline_script_frame_denial_and_no_store(logged_in):
    for path in ("/", "/review", "/login", "/api/v1/openapi.json"):
        response = logged_in.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text
    assert "no-store" not in logged_in.get("/static/style.css").headers.get("cache-control", "")


def test_user_data_is_escaped_everywhere(logged_in, record_interview, db_url):
    interview = record_interview(
        company=XSS,
        role='"><svg onload=alert(1)>',
        contacts=("Jane Roe <jane@acme.example> | topic=<img src=x onerror=alert(1)>",),
    )
    # Names cannot carry < or > through the CLI or the forms; a stored one is escaped all the same.
    db = Database(db_url)
    with db.transaction() as session:
        session.get(Contact, interview["contacts"][0]["id"]).name = XSS
    db.dispose()
    fid = interview["followups"][0]["id"]
    for path in ("/", "/interviews", f"/interviews/{interview['id']}", f"/followups/{fid}"):
        page = logged_in.get(path).text
        assert XSS not in page and "<svg onload" not in page and "<img src=x" not in page, path
    page = logged_in.get(f"/interviews/{interview['id']}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in page


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer wrong-token-0123456789abcdef"}, "not FOLLOWUP_API_TOKEN"),
        ({"Authorization": f"Basic {API_TOKEN}"}, "Authorization: Bearer"),
    ],
)
def test_the_api_refuses_a_missing_or_wrong_token(web, headers, reason):
    for method, path in (("get", "/api/v1/followups"), ("post", "/api/v1/followups/1/approve")):
        response = getattr(web, method)(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert reason in response.json()["errors"][0]["reason"]
    ok = web.get("/api/v1/followups", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert ok.status_code == 200


def test_a_session_cookie_does_not_open_the_api_and_without_a_token_it_is_off(
    logged_in, web_env, db, clock, monkeypatch
):
    refused = logged_in.get("/api/v1/followups")
    assert refused.status_code == 401

    from fastapi.testclient import TestClient

    from service.config import load_settings
    from service.web.app import create_app

    monkeypatch.delenv("FOLLOWUP_API_TOKEN")
    with TestClient(create_app(load_settings(), db, clock=clock)) as client:
        client.base_url = "http://127.0.0.1:8080"
        response = client.get("/api/v1/followups", headers={"Authorization": "Bearer x"})
        assert response.status_code == 401
        assert "the API is off" in response.json()["errors"][0]["reason"]


def test_serve_refuses_bad_host_and_port_values_in_one_line(run, workdir):
    for args in (["--port", "0"], ["--port", "x"], ["--host", "bad..host"], ["--host", ""]):
        result = run("serve", *args)
        assert result.code == 2, (args, result)
        assert result.err.startswith("followup: error: ") and result.err.count("\n") == 1


def test_serve_refuses_a_public_address_without_a_password(run, workdir):
    result = run("serve", "--host", "0.0.0.0", "--port", "1")
    assert result.code == 2
    assert "refusing to listen on 0.0.0.0" in result.err and "FOLLOWUP_WEB_PASSWORD" in result.err


def test_ids_out_of_the_database_range_are_refused_as_bad_input(logged_in):
    for path in ("/followups/0", "/followups/99999999999999999999", "/interviews/-1"):
        page = logged_in.get(path)
        assert page.status_code == 422 and "not valid" in page.text, path
    api = logged_in.get(
        "/api/v1/followups/99999999999", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert api.status_code == 422 and api.json()["errors"][0]["field"] == "followup_id"
