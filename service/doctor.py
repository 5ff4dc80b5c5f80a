"""`followup doctor`: checks every part of the set-up and says, in words, what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from service.config import OUTBOX_PLACEHOLDER, Settings
from service.context import sample_context
from service.credentials import describe_login
from service.db import Database, schema_status
from service.errors import FollowupError
from service.languages import SHIPPED
from service.models import FollowUp, Reason, Status
from service.plan import Plan, load_plan
from service.rendering import templates_for
from service.transport import SmtpTransport
from service.validation import Mailbox

#: Templates the service itself uses, whatever the plan says.
BUILTIN_TEMPLATES = ("delivery_failed",)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    #: A problem that does not stop anything yet (e.g. outbox mode without FOLLOWUP_FROM).
    warning: bool = False

    @property
    def status(self) -> str:
        return "ok" if self.ok and not self.warning else ("warn" if self.ok else "fail")

    @property
    def label(self) -> str:
        return {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[self.status]


def _database_exposure(url: str) -> Iterator[Check]:
    import shlex

    from service.db import exposure, sqlite_file

    exposed = exposure(url)
    if exposed:
        path = sqlite_file(url)
        files = [str(path), f"{path}-wal", f"{path}-shm"] if path else []
        fix = f"run: chmod 600 {' '.join(shlex.quote(f) for f in files)}" if files else ""
        yield Check("database file", True, f"{exposed}: it holds your mail", fix, warning=True)


def run_checks(settings: Settings, db: Database) -> Iterator[Check]:
    """Yield one Check a part; never raises for a problem it can describe."""
    yield Check("settings", True, settings.describe_env_file())
    from service.setup.envfile import exposure

    exposed = exposure(settings.env_file)
    if exposed:
        yield Check("settings file", True, exposed, "chmod 600 the file, or use "
                    "FOLLOWUP_SMTP_PASSWORD_COMMAND (see the README)", warning=True)  # fmt: skip
    for warning in settings.warnings:
        yield Check("settings", True, warning, "fix the name in .env", warning=True)
    me = settings.sender
    if me is None and settings.smtp is None:
        yield Check(
            "sender",
            True,
            "FOLLOWUP_FROM is not set: outbox mail is signed 'Your Name'",
            'set FOLLOWUP_FROM="Your Name <you@your-provider.com>" in .env before sending',
            warning=True,
        )
    elif me is None:
        yield Check(
            "sender",
            False,
            "FOLLOWUP_FROM is not set: nothing can be sent",
            'set FOLLOWUP_FROM="Your Name <you@your-provider.com>" in .env',
        )
    elif settings.sender_is_placeholder:
        yield Check(
            "sender",
            settings.smtp is None,
            f"FOLLOWUP_FROM is still the example ({me})"
            + (": nothing is sent over SMTP until it is yours" if settings.smtp else ""),
            "set FOLLOWUP_FROM to your real name and address in .env",
            warning=settings.smtp is None,
        )
    else:
        yield Check("sender", True, str(me))
    me = settings.require_sender() if settings.smtp is None else (me or OUTBOX_PLACEHOLDER)
    yield Check("time zone", True, settings.timezone.key)

    url = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        current, head = schema_status(db)
    except Exception as exc:  # any driver error: say it in one line
        yield Check(
            "database",
            False,
            f"{url}: {str(exc).splitlines()[0]}",
            "check FOLLOWUP_DATABASE_URL and that the server is running",
        )
    else:
        if current != head:
            yield Check(
                "database",
                False,
                f"{url} is at {current or 'an empty schema'}, not {head}",
                "run `followup migrate`",
            )
        else:
            yield Check("database", True, f"{url} (schema {head})")
            yield from _database_exposure(settings.database_url)
            yield _writable(db, url)
            yield from _attention(db)
            yield from _workers(settings, db)

    plan: Plan | None = None
    try:
        plan = load_plan(settings.plan_path)
    except FollowupError as exc:
        yield Check("plan", False, str(exc), "fix the plan file named by FOLLOWUP_PLAN")
    else:
        yield Check(
            "plan",
            True,
            f"{plan.source}: {', '.join(s.name for s in plan.steps)}; "
            f"window {plan.window.describe()}",
        )

    templates = templates_for(settings)
    to_me = {s.template for s in plan.steps if s.to == "me"} if plan else set()
    names = sorted({s.template for s in plan.steps} if plan else set()) + list(BUILTIN_TEMPLATES)
    # The worker mails the user a digest of what waits for approval (review on, or a hold).
    names.append("review_digest")
    for name in names:
        # Each language it ships (and any the user added), and the user's own.
        languages = list(dict.fromkeys(["en", *templates.languages(name), settings.language]))
        errors: dict[str, list[str]] = {}
        for language in languages:
            data = _sample(name, me, language, private=name in to_me)
            try:
                templates.render(name, data)
            except FollowupError as exc:
                errors.setdefault(str(exc), []).append(language)
        for error, failed in errors.items():
            yield Check(
                f"template {name}",
                False,
                f"{error} (in {', '.join(failed)})",
                "fix the template, or remove your override to use the default",
            )
        if not errors:
            yield Check(f"template {name}", True, f"renders ({', '.join(languages)})")
    if (
        plan
        and not any(templates.filename(n, settings.language) != f"{n}.txt" for n in names)
        and settings.language not in SHIPPED
    ):
        yield Check(
            "language",
            True,
            f"FOLLOWUP_LANGUAGE={settings.language}: no template is written in it, so follow-ups "
            "go out in English",
            f"add NAME.{settings.language}.txt templates to FOLLOWUP_TEMPLATES_DIR",
            warning=True,
        )

    yield from _smtp_checks(settings)
    # The mailbox (issue 10): replies, auto-replies and bounces read over IMAP.
    from service.inbox.doctor import imap_checks

    yield from imap_checks(settings, db)


def _sample(name: str, me: Mailbox, language: str, *, private: bool) -> dict:
    """What template `name` is rendered with to check it: a sample interview in `language`."""
    context = sample_context(me, private=private, language=language)
    if name == "review_digest":  # it sees only what digest.queue_digest gives it
        item = {
            "id": 0,
            "to": "Jane Roe <jane.roe@example.com>",
            "company": "Example Corp",
            "subject": "Thank you for the Senior Engineer interview",
            "due": "Fri 04 Sep 17:00",
            "overdue": False,
            "waiting": "2 hours",
        }
        return {"me": context["me"], "count": 1, "items": [item], "language": language}
    context["failed"] = {
        "id": 0,
        "step": "thank_you",
        "subject": "Thank you",
        "to": "Jane Roe",
        "error": "550 mailbox unavailable",
    }
    return context


def _smtp_checks(settings: Settings) -> Iterator[Check]:
    if settings.smtp is None:
        yield Check("smtp", True, f"not configured: mail is written to {settings.outbox_dir}", "")
        return
    smtp = settings.smtp
    described = f"{smtp.address} ({smtp.security}"
    described += f", {describe_login(smtp)})" if smtp.username else ")"
    try:
        done = SmtpTransport(smtp).check()
    except FollowupError as exc:
        yield Check(
            "smtp",
            False,
            f"{described}: {exc}",
            "check FOLLOWUP_SMTP_* in .env; `followup send-test` tries a real message",
        )
    else:
        yield Check("smtp", True, f"{described}: {', '.join(done)}")


def _writable(db: Database, url: str) -> Check:
    """A write that is rolled back: a read-only file or role shows here, not at 3 a.m."""
    try:
        with db.engine.connect() as conn, conn.begin() as transaction:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            transaction.rollback()
    except Exception as exc:  # any driver error: say it in one line
        orig = getattr(exc, "orig", None) or exc
        return Check(
            "database writable",
            False,
            f"{url}: {str(orig).splitlines()[0] if str(orig) else type(orig).__name__}",
            "check the permissions of the database file and its folder (or the database role)",
        )
    return Check("database writable", True, "yes")


def _workers(settings: Settings, db: Database) -> Iterator[Check]:
    """Running workers (by their heartbeat), and any whose sending is paused."""
    from datetime import UTC, datetime

    from service import workers

    now = datetime.now(UTC)
    alive = workers.alive(db, now, settings.tick)
    for worker in alive:
        if worker.inbox_error:
            yield Check(
                "worker inbox",
                False,
                f"{worker.name} cannot read the mailbox: {worker.inbox_error}",
                "check FOLLOWUP_IMAP_* in .env; sending goes on meanwhile",
            )
        if worker.paused_reason:
            yield Check(
                "worker",
                False,
                f"{worker.name}: sending paused since {worker.paused_at:%Y-%m-%d %H:%M} UTC: "
                f"{worker.paused_reason}",
                "fix the FOLLOWUP_SMTP_ settings; the worker resumes when .env changes",
            )
    if not alive:
        yield Check(
            "worker",
            True,
            "none running (no heartbeat in the last three ticks)",
            "start `followup worker`, or run `followup worker --once` from cron",
            warning=True,
        )
    elif not any(w.paused_reason for w in alive):
        yield Check("worker", True, f"{len(alive)} running")


#: What each cause of `uncertain` means, in words.
UNCERTAIN_CAUSES: dict[str | None, str] = {
    Reason.INTERRUPTED: "a worker stopped while sending them",
    Reason.CONNECTION_LOST: "the connection dropped after the message was sent, before the "
    "server answered",
    Reason.RESTORED: "restored from a backup, they were due since it was taken and may have "
    "gone out from the old database",
}


def _attention(db: Database) -> Iterator[Check]:
    """Follow-ups waiting for the user's decision, by what happened to them."""
    with db.reading() as session:
        rows = session.execute(
            select(FollowUp.reason, func.count(FollowUp.id))
            .where(FollowUp.status == Status.UNCERTAIN)
            .group_by(FollowUp.reason)
        ).all()
    for reason, count in rows:
        cause = UNCERTAIN_CAUSES.get(reason, "their sending was interrupted")
        yield Check(
            "uncertain follow-ups",
            False,
            f"{count} may or may not have been sent: {cause}",
            "check your Sent folder, then `followup retry ID` or `followup cancel ID` "
            "(`followup schedule --all` lists them)",
        )
