"""`followup doctor`: checks every part of the set-up and says, in words, what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from service.config import Settings
from service.db import Database, schema_status
from service.errors import FollowupError
from service.models import FollowUp, Status
from service.plan import load_plan
from service.rendering import Templates, sample_context
from service.transport import SmtpTransport
from service.validation import Mailbox

#: Templates the service itself uses, whatever the plan says.
BUILTIN_TEMPLATES = ("delivery_failed",)
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def run_checks(settings: Settings, db: Database) -> Iterator[Check]:
    """Yield one Check a part; never raises for a problem it can describe."""
    me = settings.sender
    if me is None:
        yield Check(
            "sender",
            False,
            "FOLLOWUP_FROM is not set",
            'set FOLLOWUP_FROM="Your Name <you@example.org>" in .env',
        )
        me = Mailbox("Your Name", "you@example.org")
    elif settings.smtp and me.domain in PLACEHOLDER_DOMAINS:
        yield Check(
            "sender",
            False,
            f"FOLLOWUP_FROM is the placeholder {me}",
            "set FOLLOWUP_FROM to your real name and address in .env",
        )
    else:
        yield Check("sender", True, str(me))
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
            yield from _attention(db)

    try:
        plan = load_plan(settings.plan_path)
    except FollowupError as exc:
        yield Check("plan", False, str(exc), "fix the plan file named by FOLLOWUP_PLAN")
        plan = None
    else:
        yield Check(
            "plan",
            True,
            f"{plan.source}: {', '.join(s.name for s in plan.steps)}; "
            f"window {plan.window.describe()}",
        )

    templates = Templates(settings.templates_dir)
    names = sorted({s.template for s in plan.steps} if plan else set()) + list(BUILTIN_TEMPLATES)
    if settings.review:
        # With review on, the worker mails the user a digest of what waits for approval.
        names.append("review_digest")
    context = sample_context(me)
    context["failed"] = {
        "id": 0,
        "step": "thank_you",
        "subject": "Thank you",
        "to": "Jane Roe",
        "error": "550 mailbox unavailable",
    }
    # The digest sees only what review.queue_digest gives it.
    digest_context = {"me": context["me"], "count": 1}
    digest_context["items"] = [
        {
            "id": 0,
            "to": "Jane Roe <jane.roe@example.com>",
            "company": "Example Corp",
            "subject": "Thank you for the Senior Engineer interview",
            "due": "Fri 04 Sep 17:00",
            "overdue": False,
            "waiting": "2 hours",
        }
    ]
    for name in names:
        try:
            templates.render(name, digest_context if name == "review_digest" else context)
        except FollowupError as exc:
            yield Check(
                f"template {name}",
                False,
                str(exc),
                "fix the template, or remove your override to use the default",
            )
        else:
            yield Check(f"template {name}", True, "renders")

    yield from _smtp_checks(settings)
    # The mailbox (issue 10): replies, auto-replies and bounces read over IMAP.
    from service.inbox.doctor import imap_checks

    yield from imap_checks(settings, db)


def _smtp_checks(settings: Settings) -> Iterator[Check]:
    if settings.smtp is None:
        yield Check("smtp", True, f"not configured: mail is written to {settings.outbox_dir}", "")
        return
    smtp = settings.smtp
    described = f"{smtp.address} ({smtp.security}"
    described += f", user {smtp.username}, password ****)" if smtp.username else ")"
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


def _attention(db: Database) -> Iterator[Check]:
    """Follow-ups waiting for the user's decision."""
    with db.transaction() as session:
        uncertain = session.scalar(
            select(func.count(FollowUp.id)).where(FollowUp.status == Status.UNCERTAIN)
        )
    if uncertain:
        yield Check(
            "uncertain follow-ups",
            False,
            f"{uncertain} may or may not have been sent (a worker stopped mid-send)",
            "see `followup schedule --all`, then `followup retry ID` or `followup cancel ID`",
        )
