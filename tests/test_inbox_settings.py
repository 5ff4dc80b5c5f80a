"""FOLLOWUP_IMAP_*: defaults, what is refused (in one line naming the variable), and what the
IMAP settings borrow from the SMTP ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config.imap import imap_settings
from service.errors import ConfigError


def settings(**env):
    return imap_settings({f"FOLLOWUP_{k}": v for k, v in env.items()}, Path("/tmp"))


def test_no_host_means_no_inbox():
    assert settings() is None
    assert settings(IMAP_HOST="  ") is None


def test_defaults_ssl_993_inbox_auto_sent_and_the_smtp_login():
    imap = settings(IMAP_HOST="imap.example.org", SMTP_USERNAME="ada", SMTP_PASSWORD="pw")
    assert (imap.port, imap.security, imap.folders, imap.sent) == (993, "ssl", ("INBOX",), "auto")
    assert (imap.username, imap.password) == ("ada", "pw")
    assert "pw" not in repr(imap)


def test_own_login_folders_and_sent_folder():
    imap = settings(
        IMAP_HOST="imap.example.org", IMAP_USERNAME="ada@example.org", IMAP_PASSWORD="x",
        IMAP_SECURITY="STARTTLS", IMAP_FOLDERS="INBOX, Jobs/Replies ,", IMAP_SENT="Sent Items",
    )  # fmt: skip
    assert (imap.port, imap.security) == (143, "starttls")
    assert imap.folders == ("INBOX", "Jobs/Replies")
    assert imap.sent == "Sent Items"
    assert (
        settings(IMAP_HOST="h.example", IMAP_USERNAME="a", IMAP_PASSWORD="b", IMAP_SENT="OFF").sent
        == "off"
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"IMAP_HOST": "imap.example.org"}, "FOLLOWUP_IMAP_USERNAME"),
        ({"IMAP_SECURITY": "tls"}, "FOLLOWUP_IMAP_SECURITY='tls'"),
        ({"IMAP_SECURITY": "none"}, "unencrypted"),
        ({"IMAP_PORT": "99999"}, "FOLLOWUP_IMAP_PORT"),
        ({"IMAP_PORT": "x"}, "FOLLOWUP_IMAP_PORT"),
        ({"IMAP_TIMEOUT": "soon"}, "FOLLOWUP_IMAP_TIMEOUT"),
        ({"IMAP_HOST": "imap example"}, "FOLLOWUP_IMAP_HOST"),
        ({"SMTP_CA_FILE": "/nonexistent/ca.pem"}, "FOLLOWUP_SMTP_CA_FILE"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_the_variable(env, says):
    base = {"IMAP_HOST": "imap.example.org", "IMAP_USERNAME": "a", "IMAP_PASSWORD": "secret"}
    if env == {"IMAP_HOST": "imap.example.org"}:
        base = {}
    with pytest.raises(ConfigError) as caught:
        settings(**(base | env))
    assert says in str(caught.value)
    assert "secret" not in str(caught.value)


def test_no_encryption_is_allowed_for_a_local_server_only():
    imap = settings(
        IMAP_HOST="127.0.0.1", IMAP_SECURITY="none", IMAP_USERNAME="a", IMAP_PASSWORD="b"
    )
    assert (imap.security, imap.port) == ("none", 143)
