"""TLS and login against real aiosmtpd servers: verified certificates, no silent plaintext."""

from __future__ import annotations

import pytest
from mailserver import MailServer
from sqlalchemy import select

from service.db import Database
from service.models import FollowUp


def thank_you(db_url) -> FollowUp:
    db = Database(db_url)
    with db.transaction() as session:
        row = session.scalars(select(FollowUp).where(FollowUp.step == "thank_you")).one()
    db.dispose()
    return row


@pytest.fixture
def tls_server(tls_ca, request):
    server_ctx, _ = tls_ca
    server = MailServer(security=request.param, tls_context=server_ctx, auth=("ada", "pw-123456"))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("tls_server", ["starttls", "ssl"], indirect=True)
def test_untrusted_certificate_is_refused_then_accepted_with_the_ca_file(
    tls_server, tls_ca, workdir, run, clock, immediate_plan, record_interview, db_url, monkeypatch
):
    _, ca_file = tls_ca
    env = tls_server.env(
        FOLLOWUP_SMTP_HOST="localhost",
        FOLLOWUP_SMTP_USERNAME="ada",
        FOLLOWUP_SMTP_PASSWORD="pw-123456",
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    run("migrate")
    record_interview()

    refused = run("worker", "--once")
    # About the settings, not the message: sending pauses, the follow-up waits untouched.
    assert refused.code == 2 and "sending is paused" in refused.err
    assert "certificate" in refused.err and "FOLLOWUP_SMTP_CA_FILE" in refused.err
    assert tls_server.received == []
    assert (thank_you(db_url).status, thank_you(db_url).attempts) == ("planned", 0)
    doctor = run("doctor")
    assert doctor.code == 1 and "FAIL  smtp" in doctor.out and "FOLLOWUP_SMTP_CA_FILE" in doctor.out

    monkeypatch.setenv("FOLLOWUP_SMTP_CA_FILE", str(ca_file))
    assert run("doctor").code == 0
    assert "1 sent" in run("worker", "--once").out
    assert len(tls_server.received) == 1


def test_starttls_not_offered_is_refused_not_downgraded(
    workdir, run, clock, immediate_plan, record_interview, db_url, monkeypatch, mailserver
):
    env = mailserver.env(FOLLOWUP_SMTP_SECURITY="starttls")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    run("migrate")
    record_interview()
    refused = run("worker", "--once")
    assert refused.code == 2 and "does not offer STARTTLS" in refused.err
    assert mailserver.received == []
    assert thank_you(db_url).status == "planned"


def test_send_test_mails_the_user(tls_ca, workdir, run, monkeypatch):
    server_ctx, ca_file = tls_ca
    server = MailServer(security="starttls", tls_context=server_ctx).start()
    try:
        for k, v in server.env(
            FOLLOWUP_SMTP_HOST="localhost", FOLLOWUP_SMTP_CA_FILE=str(ca_file)
        ).items():
            monkeypatch.setenv(k, v)
        result = run("send-test")
        assert result.code == 0, result.err
        assert server.received[0].rcpt_tos == ["ada@candidate.example"]
        assert "250" in result.out
    finally:
        server.stop()
