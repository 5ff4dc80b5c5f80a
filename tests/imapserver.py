"""A real IMAP server for tests: an unprivileged Dovecot instance on 127.0.0.1 with its own
base_dir, mail folders, users and a private CA, started once per test session."""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import imapclient

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PASSWORD = "s3cret-app-password"
#: Accounts created at start; each test takes a fresh one.
USERS = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _crlf(raw: bytes) -> bytes:
    """IMAP wants CRLF line ends; the sample files have LF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Dovecot:
    """One Dovecot process: SSL on `port`, plain/STARTTLS on `plain_port`; users made on demand."""

    def __init__(self, extra_config: str = ""):
        self.extra_config = extra_config
        self.dir = Path(tempfile.mkdtemp(prefix="followup-dovecot-"))
        # Mail processes run as an unprivileged user; every folder above the mail must let it in.
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.plain_port = free_port()
        self.process: subprocess.Popen | None = None
        self._users = itertools.count(1)

    @property
    def config(self) -> Path:
        return self.dir / "dovecot.conf"

    @property
    def log(self) -> Path:
        return self.dir / "dovecot.log"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    def _write_config(self) -> None:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.private_key_pem.write_to_path(str(self.dir / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(self.dir / "cert.pem"))
        mail = self.dir / "mail"
        mail.mkdir()
        if os.geteuid() == 0:  # as root: mail as nobody, login and internal as Dovecot's users
            uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
            login_user, internal_user = "dovenull", "dovecot"
        else:  # a developer's own user runs everything
            uid, gid = os.getuid(), os.getgid()
            login_user = internal_user = pwd.getpwuid(uid).pw_name
        os.chown(mail, uid, gid)
        # Every account exists from the start: Dovecot may not notice a passwd-file changed
        # within the same second.
        (self.dir / "passwd").write_text(
            "".join(f"{self._user(n)}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, USERS + 1))
        )
        d = self.dir
        self.config.write_text(
            f"""
base_dir = {d}/run
state_dir = {d}/state
instance_name = followup-test-{self.port}
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {self.log}
mail_location = maildir:{mail}/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
{self.extra_config}
"""
        )

    def start(self) -> Dovecot:
        if not Path(DOVECOT).exists():
            raise RuntimeError("Dovecot is not installed: apt-get install -y dovecot-imapd")
        self._write_config()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "stderr.log").open("wb"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Dovecot exited: {(self.dir / 'stderr.log').read_text()} "
                    f"{self.log.read_text() if self.log.exists() else ''}"
                )
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                socket.create_connection(("127.0.0.1", self.plain_port), 0.2).close()
                return self
            time.sleep(0.05)
        raise RuntimeError("Dovecot did not start listening within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- accounts and messages ----------------------------------------------------------------

    @staticmethod
    def _user(number: int) -> str:
        return f"user{number}@candidate.example"

    def new_user(self) -> str:
        """A fresh account (its own empty mailbox) with the password PASSWORD."""
        number = next(self._users)
        if number > USERS:
            raise RuntimeError(f"more than {USERS} accounts asked for: raise USERS")
        return self._user(number)

    def client(self, user: str) -> imapclient.IMAPClient:
        """A logged-in plain connection, for the test's own look at the mailbox."""
        client = imapclient.IMAPClient("127.0.0.1", port=self.plain_port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX", flags=()) -> int:
        """Deliver a message by APPEND; returns its UID."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            reply = client.append(folder, _crlf(raw), flags=flags)
        finally:
            client.logout()
        return int(reply.split(b"APPENDUID ")[1].split(b"]")[0].split()[1])

    def messages(self, user: str, folder: str = "INBOX") -> dict[int, tuple[tuple, bytes]]:
        """{uid: (flags, raw)} of every message in folder, read without changing anything."""
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
        finally:
            client.logout()
        return {uid: (item[b"FLAGS"], item[b"BODY[]"]) for uid, item in data.items()}

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        client = self.client(user)
        try:
            return int(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
        finally:
            client.logout()

    def change_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Give the folder a new UIDVALIDITY, as a server does after rebuilding its index."""
        new = self.uidvalidity(user, folder) + 1000
        subprocess.run(
            [DOVEADM, "-c", str(self.config), "mailbox", "update", "-u", user,
             "--uid-validity", str(new), folder],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return new

    def reset(self, user: str) -> None:
        """Empty the user's folders (messages only; the folders stay)."""
        client = self.client(user)
        try:
            for _flags, _sep, name in client.list_folders():
                client.select_folder(name)
                uids = client.search("ALL")
                if uids:
                    client.delete_messages(uids)
                    client.expunge()
        finally:
            client.logout()
