"""A request body costs the server no more than FOLLOWUP_WEB_MAX_BODY, and an API call without
its token costs it nothing (issue 20, item 6). Driven at the ASGI level, so that the test sees
exactly how much of the body the app pulled; on both databases."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import API_TOKEN

from service.config.web import DEFAULT_MAX_BODY

CHUNK = 64 * 1024
#: The body the issue sent: 600 MiB of JSON.
HUGE = 600 * 1024 * 1024


class Body:
    """A request body of `size` bytes, handed out in chunks; records how much was pulled."""

    def __init__(self, size: int):
        self.size = size
        self.pulled = 0

    async def receive(self) -> dict:
        if self.pulled >= self.size:
            await asyncio.Event().wait()  # the client waits for the answer
        chunk = min(CHUNK, self.size - self.pulled)
        self.pulled += chunk
        first = b'{"company": "' if self.pulled == chunk else b""
        body = (first + b"x" * chunk)[:chunk]
        return {"type": "http.request", "body": body, "more_body": self.pulled < self.size}


@pytest.fixture
def call(web_env, db, clock):
    """Send one request to the app, as uvicorn would; returns (status, body text, Body)."""
    from service.config import load_settings
    from service.web.app import create_app

    app = create_app(load_settings(), db, clock=clock)

    def send_request(
        method: str, path: str, size: int, *, token: bool, declared: bool = True, **headers: str
    ) -> tuple[int, str, Body]:
        body = Body(size)
        raw = {"host": "127.0.0.1:8080", "content-type": "application/json", **headers}
        if token:
            raw["authorization"] = f"Bearer {API_TOKEN}"
        if declared:
            raw["content-length"] = str(size)
        else:
            raw["transfer-encoding"] = "chunked"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
        }
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        asyncio.run(asyncio.wait_for(app(scope, body.receive, send), timeout=60))
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, text.decode(), body

    return send_request


def test_no_token_and_a_huge_body_is_401_before_a_byte_is_read(call):
    for declared in (True, False):
        status, text, body = call(
            "POST", "/api/v1/interviews", HUGE, token=False, declared=declared
        )
        assert status == 401
        assert "Authorization: Bearer" in json.loads(text)["errors"][0]["reason"]
        assert body.pulled == 0


def test_a_body_declared_over_the_cap_is_413_before_a_byte_is_read(call):
    status, text, body = call("POST", "/api/v1/interviews", HUGE, token=True)
    assert status == 413
    assert body.pulled == 0
    reason = json.loads(text)["errors"][0]["reason"]
    assert "FOLLOWUP_WEB_MAX_BODY" in reason and "\n" not in reason


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/api/v1/interviews", "application/json"), ("/login", "application/x-www-form-urlencoded")],
)
def test_a_chunked_body_is_cut_off_at_the_cap(call, path, kind):
    status, text, body = call(
        "POST", path, HUGE, token=True, declared=False, **{"content-type": kind}
    )
    assert status == 413
    assert DEFAULT_MAX_BODY < body.pulled <= DEFAULT_MAX_BODY + CHUNK
    assert "FOLLOWUP_WEB_MAX_BODY" in text and text.count("\n") <= 1


def test_a_page_form_declared_over_the_cap_is_one_line(call):
    status, text, body = call(
        "POST",
        "/login",
        DEFAULT_MAX_BODY + 1,
        token=False,
        **{"content-type": "application/x-www-form-urlencoded"},
    )
    assert status == 413 and body.pulled == 0
    assert text.startswith("The request body is over") and text.count("\n") == 1


def test_the_cap_is_a_setting(web_env, db, clock, monkeypatch):
    import warnings

    from service.config import load_settings
    from service.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    monkeypatch.setenv("FOLLOWUP_WEB_MAX_BODY", "2k")
    app = create_app(load_settings(), db, clock=clock)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        small = client.post("/api/v1/interviews", json={"notes": "x" * 1500}, headers=auth)
        assert small.status_code == 422  # read, and refused for what it says
        large = client.post("/api/v1/interviews", json={"notes": "x" * 2100}, headers=auth)
        assert large.status_code == 413


@pytest.mark.parametrize(
    ("value", "size"),
    [("", DEFAULT_MAX_BODY), ("4096", 4096), ("512k", 512 * 1024), ("2M", 2 * 1024 * 1024)],
)
def test_max_body_values(web_env, monkeypatch, value, size):
    from service.config import load_settings

    monkeypatch.setenv("FOLLOWUP_WEB_MAX_BODY", value)
    assert load_settings().web.max_body == size


@pytest.mark.parametrize("value", ["1MB", "-5", "0", "100", "2G", "k", "9" * 5000, "1.5M"])
def test_a_bad_max_body_is_refused_in_one_line(web_env, monkeypatch, value):
    from service.config import load_settings
    from service.errors import ConfigError

    monkeypatch.setenv("FOLLOWUP_WEB_MAX_BODY", value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("FOLLOWUP_WEB_MAX_BODY") and "\n" not in message
    assert len(message) < 300
