"""Secrets out of .env: a password or an OAuth2 token printed by a command (as msmtp's
passwordeval and isync's PassCmd), SASL XOAUTH2 and OAUTHBEARER against a real SMTP server that
checks them, and a settings file holding a password that others can read."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from mailserver import MailServer, Recorder, free_port

from service import credentials
from service.config import load_settings
from service.credentials import CredentialError, run_secret_command, token_lifetime
from service.errors import FollowupError
from service.transport import DeliveryError, SmtpTransport

SECRET = "s3cret-Pa55"


# --- password commands -------------------------------------------------------------------------


def test_the_first_line_the_command_prints_is_the_password():
    assert run_secret_command(f"printf '{SECRET}\\nsecond line\\n'", "X", 5) == SECRET


def test_a_command_that_fails_says_so_without_its_output():
    with pytest.raises(CredentialError) as caught:
        run_secret_command(f"echo {SECRET}; echo {SECRET} >&2; exit 3", "FOLLOWUP_X", 5)
    message = str(caught.value)
    assert "FOLLOWUP_X failed (exit status 3)" in message
    assert SECRET not in message and "\n" not in message


def test_a_command_that_prints_nothing_is_refused():
    with pytest.raises(CredentialError, match="FOLLOWUP_X printed nothing"):
        run_secret_command("true", "FOLLOWUP_X", 5)


def test_a_command_that_hangs_is_stopped_at_the_timeout_with_what_it_started():
    # The shell's child keeps stdout open: only killing the whole group ends the wait.
    started = time.monotonic()
    with pytest.raises(CredentialError, match="did not finish within 0.5s"):
        run_secret_command("sleep 60 & sleep 60; echo late", "FOLLOWUP_X", 0.5)
    assert time.monotonic() - started < 10


def test_a_password_command_logs_in_over_smtp_and_a_failing_one_is_one_clear_line(
    workdir, run, tmp_path
):
    server = MailServer(auth=("ada@candidate.example", SECRET)).start()
    try:
        env = server.env(
            FOLLOWUP_SMTP_USERNAME="ada@candidate.example",
            FOLLOWUP_SMTP_PASSWORD_COMMAND=f"printf '{SECRET}\\n'",
        )
        sent = run("send-test", env=env)
        assert sent.code == 0, sent.err
        assert len(server.received) == 1
        env["FOLLOWUP_SMTP_PASSWORD_COMMAND"] = f"echo {SECRET}; exit 1"
        failed = run("send-test", env=env)
        assert failed.code == 2  # the settings do not work: the user fixes them
        assert failed.err.count("\n") == 1 and SECRET not in failed.err + failed.out
        assert "FOLLOWUP_SMTP_PASSWORD_COMMAND failed (exit status 1)" in failed.err
        # doctor says the same, and which way the password comes.
        doctor = run("doctor", env=env)
        assert "password from its command" in doctor.out and SECRET not in doctor.out
    finally:
        server.stop()


def test_the_password_and_its_command_together_are_refused(tmp_path):
    env = {
        "FOLLOWUP_SMTP_HOST": "smtp.example.org",
        "FOLLOWUP_SMTP_USERNAME": "ada",
        "FOLLOWUP_SMTP_PASSWORD": SECRET,
        "FOLLOWUP_SMTP_PASSWORD_COMMAND": "pass show mail",
    }
    with pytest.raises(FollowupError, match="keep one") as caught:
        load_settings(tmp_path, env)
    assert SECRET not in str(caught.value) and "pass show" not in str(caught.value)


# --- OAuth2 ------------------------------------------------------------------------------------


class OAuthServer(Recorder):
    """Accepts XOAUTH2 and OAUTHBEARER for one user and the tokens in `valid`; refuses others
    the way Gmail does (an error challenge, then 535), and remembers each SASL string."""

    def __init__(self, user: str, valid: set[str]):
        super().__init__()
        self.user, self.valid, self.seen = user, valid, []

    async def _check(self, server, args, mechanism: str, expected) -> AuthResult:
        raw = (
            base64.b64decode(args[1])
            if len(args) > 1
            else await server.challenge_auth("", encode_to_b64=False)
        )
        text = raw.decode()
        self.seen.append((mechanism, text))
        if any(text == expected(token) for token in self.valid):
            return AuthResult(success=True, auth_data=self.user)
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"})
        await server.challenge_auth(error)  # the client answers with an empty line
        return AuthResult(success=False, handled=False, message="535 5.7.8 token not accepted")

    async def auth_XOAUTH2(self, server, args):
        return await self._check(
            server, args, "XOAUTH2", lambda t: f"user={self.user}\x01auth=Bearer {t}\x01\x01"
        )

    async def auth_OAUTHBEARER(self, server, args):
        return await self._check(
            server, args, "OAUTHBEARER", lambda t: f"n,a={self.user},\x01auth=Bearer {t}\x01\x01"
        )


@pytest.fixture
def oauth_server():
    handler = OAuthServer("ada@candidate.example", {"token-2"})
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def counting_token_command(folder: Path) -> str:
    """A token helper that prints token-1, token-2... and counts its calls in a file."""
    count = folder / "calls"
    return f'n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 )); echo $n > {count}; echo "token-$n"'


def calls(folder: Path) -> int:
    return int((folder / "calls").read_text())


def oauth_settings(server, folder: Path, mechanism: str = "xoauth2"):
    return load_settings(
        folder,
        {
            "FOLLOWUP_SMTP_HOST": "127.0.0.1",
            "FOLLOWUP_SMTP_PORT": str(server.port),
            "FOLLOWUP_SMTP_SECURITY": "none",
            "FOLLOWUP_SMTP_USERNAME": "ada@candidate.example",
            "FOLLOWUP_SMTP_AUTH": mechanism,
            "FOLLOWUP_OAUTH2_TOKEN_COMMAND": counting_token_command(folder),
            "FOLLOWUP_SMTP_TIMEOUT": "5s",
        },
    ).smtp


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_an_expired_token_is_refused_once_then_a_fresh_one_is_fetched_once(
    oauth_server, tmp_path, mechanism, caplog
):
    caplog.set_level(logging.DEBUG)
    smtp = oauth_settings(oauth_server, tmp_path, mechanism)
    done = SmtpTransport(smtp).check()
    assert "logged in as ada@candidate.example" in done
    # token-1 was refused (expired), the command ran again once, token-2 went through.
    assert calls(tmp_path) == 2
    name = mechanism.upper()
    assert [m for m, _ in oauth_server.seen] == [name, name]
    assert oauth_server.seen[1][1].endswith("auth=Bearer token-2\x01\x01")
    # The next connection uses the token in memory: the command is not run again.
    SmtpTransport(smtp).check()
    assert calls(tmp_path) == 2
    assert not any("token-" in r.getMessage() for r in caplog.records)


def test_a_token_refused_twice_fails_after_asking_the_command_once_more(oauth_server, tmp_path):
    oauth_server.valid.clear()
    smtp = oauth_settings(oauth_server, tmp_path)
    with pytest.raises(DeliveryError) as caught:
        SmtpTransport(smtp).check()
    assert caught.value.phase == "login" and caught.value.code == 535
    assert caught.value.kind == "setup"  # a refused login pauses sending; no retry storm
    assert calls(tmp_path) == 2
    assert "token-" not in str(caught.value)


def test_a_failing_token_command_is_a_login_error_without_its_output(oauth_server, tmp_path):
    smtp = oauth_settings(oauth_server, tmp_path)
    smtp = type(smtp)(**{**smtp.__dict__, "token_command": "echo token-x; exit 2"})
    with pytest.raises(DeliveryError) as caught:
        SmtpTransport(smtp).check()
    assert "FOLLOWUP_OAUTH2_TOKEN_COMMAND failed (exit status 2)" in str(caught.value)
    assert "token-x" not in str(caught.value)
    assert caught.value.kind == "transient"  # a locked keyring: tried again later


def test_oauth2_needs_a_token_command_and_a_username(tmp_path):
    base = {"FOLLOWUP_SMTP_HOST": "smtp.gmail.com", "FOLLOWUP_SMTP_AUTH": "xoauth2"}
    with pytest.raises(FollowupError, match="needs FOLLOWUP_OAUTH2_TOKEN_COMMAND"):
        load_settings(tmp_path, {**base, "FOLLOWUP_SMTP_USERNAME": "ada@gmail.com"})
    with pytest.raises(FollowupError, match="needs FOLLOWUP_SMTP_USERNAME"):
        load_settings(tmp_path, {**base, "FOLLOWUP_OAUTH2_TOKEN_COMMAND": "pizauth show x"})


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_a_token_is_kept_until_the_expiry_it_names_or_a_while_if_it_names_none():
    now = 1_800_000_000.0
    assert token_lifetime(jwt({"exp": now + 3600}), now) == 3600 - credentials.EXPIRY_MARGIN
    assert token_lifetime(jwt({"exp": now - 10}), now) == 0
    assert token_lifetime("ya29.opaque-google-token", now) == credentials.TOKEN_LIFETIME


def test_an_expired_token_in_memory_is_fetched_again(tmp_path):
    clock = [0.0]
    cache = credentials.SecretCache(clock=lambda: clock[0])
    command = counting_token_command(tmp_path)
    assert cache.get(command, "X", 5, tokens=True) == "token-1"
    clock[0] += credentials.TOKEN_LIFETIME - 1
    assert cache.get(command, "X", 5, tokens=True) == "token-1"
    clock[0] += 2
    assert cache.get(command, "X", 5, tokens=True) == "token-2"


# --- the settings file ---------------------------------------------------------------------------


def test_doctor_warns_when_a_settings_file_with_a_password_is_readable_by_others(
    workdir, run, mailserver
):
    env_file = workdir / ".env"
    env_file.write_text(f"FOLLOWUP_SMTP_PASSWORD='{SECRET}'\nFOLLOWUP_SMTP_USERNAME=ada\n")
    os.chmod(env_file, 0o644)
    shown = run("doctor", env=mailserver.env())
    assert f"WARN  settings file: {env_file} holds FOLLOWUP_SMTP_PASSWORD and can be read by " \
        "other users (mode 644)" in shown.out  # fmt: skip
    assert SECRET not in shown.out
    os.chmod(env_file, 0o600)
    assert "settings file" not in run("doctor", env=mailserver.env()).out
    # Readable by all, but without a password in it: nothing to say.
    env_file.write_text("FOLLOWUP_REVIEW=on\n")
    os.chmod(env_file, 0o644)
    assert "settings file" not in run("doctor").out


def test_doctor_warns_when_a_settings_file_readable_by_its_group_holds_a_database_password(
    workdir, run
):
    env_file = workdir / ".env"
    env_file.write_text("FOLLOWUP_DATABASE_URL='postgresql://ada:db-s3cret@db.example/followup'\n")
    os.chmod(env_file, 0o640)
    shown = run("doctor")  # the test database comes from the environment, which wins
    assert (
        f"WARN  settings file: {env_file} holds FOLLOWUP_DATABASE_URL (with a password) and can "
        "be read by its group (mode 640)" in shown.out
    )
    assert "db-s3cret" not in shown.out + shown.err
    # A URL without a password is nothing to warn about.
    env_file.write_text("FOLLOWUP_DATABASE_URL='postgresql://ada@db.example/followup'\n")
    assert "settings file" not in run("doctor").out


# --- OAuth2 over IMAP: a real Dovecot that asks a token endpoint ----------------------------------


@pytest.fixture(scope="module")
def oauth_dovecot(tmp_path_factory):
    """Dovecot with an oauth2 passdb (XOAUTH2, OAUTHBEARER) that validates tokens at a tokeninfo
    endpoint on 127.0.0.1; only `token-2` is valid, for user1."""
    import http.server
    import threading

    from imapserver import Dovecot

    asked: list[str] = []

    class TokenInfo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server convention
            token = self.path.split("access_token=", 1)[-1]
            asked.append(token)
            ok = token == "token-2"
            body = json.dumps({"email": "user1@candidate.example"} if ok else {}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenInfo)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    conf = tmp_path_factory.mktemp("oauth2") / "dovecot-oauth2.conf.ext"
    conf.write_text(
        f"tokeninfo_url = http://127.0.0.1:{http_server.server_port}/tokeninfo?access_token=\n"
        "username_attribute = email\n"
    )
    os.chmod(conf.parent, 0o755)
    os.chmod(conf, 0o644)
    dovecot = Dovecot(
        extra_config=f"""
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {conf}
}}
"""
    ).start()
    dovecot.asked = asked
    yield dovecot
    dovecot.stop()
    http_server.shutdown()


def imap_settings(dovecot, folder: Path, mechanism: str, command: str):
    return load_settings(
        folder,
        {
            "FOLLOWUP_IMAP_HOST": "127.0.0.1",
            "FOLLOWUP_IMAP_PORT": str(dovecot.port),
            "FOLLOWUP_IMAP_SECURITY": "ssl",
            "FOLLOWUP_SMTP_CA_FILE": str(dovecot.ca_file),
            "FOLLOWUP_IMAP_USERNAME": "user1@candidate.example",
            "FOLLOWUP_SMTP_AUTH": mechanism,
            "FOLLOWUP_OAUTH2_TOKEN_COMMAND": command,
        },
    ).imap


def test_imap_logs_in_with_the_token_command_and_refetches_a_refused_token_once(
    oauth_dovecot, tmp_path
):
    from service.inbox.reader import Mailbox

    # OAUTHBEARER first: Dovecot slows down logins from an address that just failed one.
    with Mailbox(imap_settings(oauth_dovecot, tmp_path, "oauthbearer", "echo token-2")) as box:
        assert box.folder_exists("INBOX")
    oauth_dovecot.asked.clear()
    imap = imap_settings(oauth_dovecot, tmp_path, "xoauth2", counting_token_command(tmp_path))
    with Mailbox(imap) as box:
        assert box.folder_exists("INBOX")
    assert oauth_dovecot.asked == ["token-1", "token-2"]
    assert calls(tmp_path) == 2
    with Mailbox(imap):
        pass
    assert calls(tmp_path) == 2  # kept in memory while the server takes it


def test_a_mechanism_the_server_does_not_offer_is_a_settings_error(tmp_path):
    server = MailServer(auth=("ada@candidate.example", SECRET)).start()  # PLAIN and LOGIN only
    try:
        smtp = oauth_settings(server, tmp_path)
        with pytest.raises(DeliveryError) as caught:
            SmtpTransport(smtp).check()
        assert "does not offer AUTH XOAUTH2" in str(caught.value)
        assert caught.value.kind == "setup"
        assert not (tmp_path / "calls").exists()  # no token asked for in vain
    finally:
        server.stop()
