"""The login limit counts per client, believes X-Forwarded-For only from a proxy named in
FOLLOWUP_WEB_TRUSTED_PROXIES, and never locks the owner out of a loopback login for longer than a
minute (issue 20, item 5). The app is wrapped as `followup serve` wraps it (uvicorn's Config with
our proxy options), on both databases, with a patched clock."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from datetime import timedelta

import pytest
from conftest import WEB_PASSWORD

from service.web import security

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette: "install httpx2 instead"
    from fastapi.testclient import TestClient


@pytest.fixture
def served(web_env, db, clock, monkeypatch):
    """Open a client at an address, to the app as `followup serve` runs it (proxy options in)."""
    import uvicorn

    from service.config import load_settings
    from service.web.app import create_app
    from service.web.server import proxy_options

    @contextmanager
    def at(address: str, app=None):
        settings = load_settings()
        if app is None:
            app = create_app(settings, db, clock=clock)
        config = uvicorn.Config(app, log_config=None, **proxy_options(settings))
        config.load()
        with TestClient(
            config.loaded_app, base_url="http://127.0.0.1:8080", client=(address, 50000)
        ) as client:
            yield client, app

    return at


def login(client, password: str = WEB_PASSWORD, **headers: str) -> int:
    response = client.post(
        "/login", data={"password": password}, headers=headers, follow_redirects=False
    )
    return response.status_code


def test_the_owner_on_this_machine_is_locked_out_for_a_minute_at_most(served, clock):
    with served("127.0.0.1") as (client, _app):
        for _ in range(security.MAX_FAILURES):
            assert login(client, "a wrong guess") == 401
        blocked = client.post("/login", data={"password": WEB_PASSWORD})
        assert blocked.status_code == 429
        assert "try again in 1 minute(s)" in blocked.text
        clock.advance(timedelta(seconds=59))
        assert login(client) == 429
        clock.advance(timedelta(seconds=1))
        assert login(client) == 303


def test_a_remote_client_is_blocked_for_the_window_and_others_are_not(served, clock):
    with served("203.0.113.7") as (attacker, app):
        for _ in range(security.MAX_FAILURES):
            assert login(attacker, "a wrong guess") == 401
        assert login(attacker) == 429
        clock.advance(security.FAILURE_WINDOW - timedelta(seconds=1))
        assert login(attacker) == 429
        # Many addresses failing many times: no cap over all locks the owner out.
        for n in range(40):
            with served(f"198.51.100.{n + 1}", app) as (other, _):
                for _ in range(security.MAX_FAILURES):
                    assert login(other, "a wrong guess") == 401
    with served("127.0.0.1", app) as (owner, _):
        assert login(owner) == 303
    with served("192.0.2.1", app) as (owner_abroad, _):
        assert login(owner_abroad) == 303
    clock.advance(timedelta(seconds=1))
    with served("203.0.113.7", app) as (attacker, _):
        assert login(attacker) == 303


def test_ipv6_addresses_of_one_network_count_as_one_client(served):
    with served("2001:db8::1") as (first, app):
        for _ in range(security.MAX_FAILURES):
            assert login(first, "a wrong guess") == 401
    with served("2001:db8::2:3", app) as (same_network, _):
        assert login(same_network) == 429
    with served("2001:db8:0:1::1", app) as (other_network, _):
        assert login(other_network) == 303


def test_a_forwarded_for_header_is_ignored_unless_its_proxy_is_trusted(served):
    with served("127.0.0.1") as (client, _app):
        for n in range(security.MAX_FAILURES):
            assert login(client, "a wrong guess", **{"X-Forwarded-For": f"192.0.2.{n}"}) == 401
        # Posing as another address buys no more tries.
        assert login(client, "a wrong guess", **{"X-Forwarded-For": "192.0.2.99"}) == 429


def test_a_trusted_proxy_passes_on_the_visitors_address(served, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_WEB_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    with served("127.0.0.1") as (proxy, app):
        for _ in range(security.MAX_FAILURES):
            assert login(proxy, "a wrong guess", **{"X-Forwarded-For": "203.0.113.5"}) == 401
        assert login(proxy, **{"X-Forwarded-For": "203.0.113.5"}) == 429
        assert login(proxy, **{"X-Forwarded-For": "203.0.113.6"}) == 303
    with served("10.1.2.3", app) as (other_proxy, _):
        assert login(other_proxy, **{"X-Forwarded-For": "203.0.113.5"}) == 429


def test_the_proxy_options_trust_nobody_by_default(web_env, monkeypatch):
    from service.config import load_settings
    from service.web.server import proxy_options

    assert proxy_options(load_settings()) == {"proxy_headers": False, "forwarded_allow_ips": []}
    monkeypatch.setenv("FOLLOWUP_WEB_TRUSTED_PROXIES", "::1,192.168.1.0/24")
    assert proxy_options(load_settings()) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["::1/128", "192.168.1.0/24"],
    }


@pytest.mark.parametrize("value", ["localhost", "10.0.0.0/33", "1.2.3", "x" * 500])
def test_a_bad_trusted_proxies_value_is_refused_in_one_line(web_env, monkeypatch, value):
    from service.config import load_settings
    from service.errors import ConfigError

    monkeypatch.setenv("FOLLOWUP_WEB_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("FOLLOWUP_WEB_TRUSTED_PROXIES") and "\n" not in message
    assert len(message) < 300
