"""`followup doctor`'s look at the mailbox: settings, TLS, login, folders, the Sent folder, and
copies still waiting to be appended."""

from __future__ import annotations

from collections.abc import Iterator

from service.config import OUTBOX_PLACEHOLDER, Settings
from service.db import Database
from service.doctor import Check
from service.errors import FollowupError
from service.inbox.reader import Mailbox

HINT = "check FOLLOWUP_IMAP_* in .env (many providers need an app password); see docs/inbox.md"


def imap_checks(settings: Settings, db: Database | None = None) -> Iterator[Check]:
    """Yield the inbox checks; never raises for a problem it can describe."""
    try:
        imap = settings.imap
    except FollowupError as exc:
        yield Check("imap", False, str(exc), HINT)
        return
    if imap is None:
        yield Check("imap", True, "not configured: replies and bounces are not read", "")
        return
    from service.credentials import describe_login

    described = f"{imap.address} ({imap.security}, {describe_login(imap)})"
    try:
        with Mailbox(imap) as box:
            yield Check("imap", True, f"{described}: connected, TLS verified, logged in"
                        if imap.security != "none" else f"{described}: connected, logged in")  # fmt: skip
            missing = [f for f in imap.folders if not box.folder_exists(f)]
            if missing:
                yield Check(
                    "imap folders",
                    False,
                    f"{', '.join(missing)} not found on the server",
                    "fix FOLLOWUP_IMAP_FOLDERS (names as your mail program shows them)",
                )
            else:
                yield Check("imap folders", True, ", ".join(imap.folders))
            yield _sent_check(box)
    except FollowupError as exc:
        yield Check("imap", False, f"{described}: {exc}", HINT)
        return
    yield from _template_checks(settings)
    if db is not None:
        yield from _copies_check(db)


def _template_checks(settings: Settings) -> Iterator[Check]:
    """The notes the inbox sends the user render (a user override may break them)."""
    from service.context import sample_context
    from service.rendering import templates_for

    context = sample_context(settings.sender or OUTBOX_PLACEHOLDER, private=True)
    context["reply"] = {
        "from": "Jane Roe <jane.roe@example.com>",
        "subject": "Re: Thank you",
        "date": "2026-09-08T10:00:00+00:00",
        "hiring": "rejection",
        "hiring_reason": "we have decided to move forward with other candidates",
    }
    context["cancelled"] = 2
    context["bounced"] = {
        "id": 0,
        "step": "thank_you",
        "subject": "Thank you",
        "to": "Jane Roe <jane.roe@example.com>",
        "diagnostic": "550 5.1.1 user unknown",
        "cancelled": 1,
    }
    templates = templates_for(settings)
    for name in ("reply_notice", "bounce_notice"):
        try:
            templates.render(name, context)
        except FollowupError as exc:
            yield Check(f"template {name}", False, str(exc), "fix your override, or remove it")
        else:
            yield Check(f"template {name}", True, "renders")


def _sent_check(box: Mailbox) -> Check:
    if box.settings.sent == "off":
        return Check("imap sent folder", True, "off: no copies are appended, none looked up")
    folder = box.sent_folder()
    if box.saves_sent_mail:
        return Check(
            "imap sent folder",
            True,
            f"{folder or 'found by the provider'}: the provider files sent mail itself "
            "(X-GM-EXT-1), followup appends no copy",
        )
    if folder is None:
        wanted = box.settings.sent
        return Check(
            "imap sent folder",
            False,
            "no \\Sent folder found" if wanted == "auto" else f"folder {wanted!r} not found",
            "set FOLLOWUP_IMAP_SENT to your Sent folder's name, or to off",
        )
    return Check("imap sent folder", True, f"{folder}: copies of sent follow-ups go there")


def _copies_check(db: Database) -> Iterator[Check]:
    from service.inbox.sent import pending_copies

    try:
        count, error = pending_copies(db)
    except Exception:  # an unmigrated database: the database check already says so
        return
    if error:
        yield Check(
            "imap sent copies",
            False,
            f"{count} cop(ies) waiting for the Sent folder; last error: {error}",
            "they are retried with backoff; fix the cause shown",
        )
