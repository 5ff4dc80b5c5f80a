"""How records read to a person and to a script: terminal tables and JSON objects."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from service.approval import ReviewRule
from service.listings import Listed, ListedInterview
from service.models import FollowUp, InboxMessage, Interview
from service.planner import Change


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as scripts expect."""
    if moment is None:
        return None
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")


def recipient(followup: Listed, me: str) -> tuple[str, str]:
    """(name, address) of who receives the follow-up."""
    if followup.contact_id is None:
        return "you", me
    return followup.contact_name or "", followup.contact_email or ""


def followup_json(f: Listed, me: str, rule: ReviewRule | None = None) -> dict:
    """A follow-up for scripts; `review` says whether it needs approval under `rule`."""
    name, address = recipient(f, me)
    return {
        "id": f.id,
        "interview_id": f.interview_id,
        "company": f.company,
        "kind": f.kind,
        "step": f.step,
        "template": f.template,
        "to": address,
        "to_name": name,
        "recipient": "me" if f.contact_id is None else "contact",
        "due_at": iso_utc(f.due_at),
        "status": f.status,
        "review": rule.of_row(f) if rule is not None else None,
        "reason": f.reason,
        "attempts": f.attempts,
        "expires_at": iso_utc(f.expires_at),
        "retry_at": iso_utc(f.retry_at),
        "sent_at": iso_utc(f.sent_at),
        "message_id": f.message_id,
        "subject": f.subject,
        "last_error": f.last_error,
    }


def interview_json(
    i: Interview | ListedInterview,
    followups: list[FollowUp] | None,
    me: str,
    rule: ReviewRule | None = None,
) -> dict:
    data = {
        "id": i.id,
        "company": i.company,
        "role": i.role,
        "starts_at": iso_utc(i.starts_at),
        "duration_minutes": i.duration_minutes,
        "timezone": i.timezone,
        "location": i.location,
        "notes": i.notes,
        "questions": list(i.questions or []),
        "decision_date": i.decision_date.isoformat() if i.decision_date else None,
        "language": i.language,
        "status": i.status,
        "contacts": [
            {
                "id": c.id,
                "name": c.name,
                "email": c.email,
                "title": c.title,
                "phone": c.phone,
                "topic": c.topic,
                "greeting": c.greeting,
            }
            for c in i.contacts
            if not c.removed
        ],
    }
    if followups is not None:
        data["followups"] = [followup_json(Listed.of(f), me, rule) for f in followups]
    return data


def human_delta(delta: timedelta) -> str:
    """A rough 'how long', e.g. '5 min', '3 h', '2 days'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def stream_json(items: Iterable[dict], write: Callable[[str], object]) -> None:
    """A JSON array written an object a line, as the objects come: memory stays flat."""
    encode = json.JSONEncoder(ensure_ascii=False).encode  # the C encoder (no indent)
    write("[")
    for n, item in enumerate(items):
        write(("\n" if n == 0 else ",\n") + encode(item))
    write("\n]\n")


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def change_json(change: Change) -> dict:
    return {
        "followup_id": change.followup_id,
        "step": change.step,
        "to": change.to,
        "action": change.action,
        "before": iso_utc(change.before),
        "after": iso_utc(change.after),
    }


def status_text(f: Listed, user_zone: ZoneInfo, rule: ReviewRule | None = None) -> str:
    """The status as a person wants it: when a deferred one is retried, and why."""
    if f.status == "deferred" and f.retry_at is not None:
        why = f": {f.last_error}" if f.last_error else ""
        return f"deferred, retry {local(f.retry_at, user_zone)}{why}"
    if f.status == "planned" and rule is not None and rule.of_row(f):
        return "planned (review)"
    if f.status in ("cancelled", "expired", "failed", "pending_review") and f.last_error:
        # Rows cancelled by a bounce in earlier versions stored "cancelled: mail to … bounced".
        return f"{f.status}: {f.last_error.removeprefix(f'{f.status}: ')}"
    if f.status in ("cancelled", "expired") and f.reason:
        return f"{f.status} ({f.reason})"
    return f.status


def followup_rows(
    followups: Iterable[Listed], user_zone: ZoneInfo, rule: ReviewRule | None = None
) -> str:
    headers = [
        "ID",
        "INTERVIEW",
        "STEP",
        "TO",
        f"DUE ({user_zone.key})",
        "DUE (recipient)",
        "STATUS",
    ]
    rows = []
    zones: dict[str, ZoneInfo] = {}
    for f in followups:
        name, address = recipient(f, "you")
        zone = zones.setdefault(f.timezone, ZoneInfo(f.timezone)) if f.timezone else user_zone
        about = f"{f.interview_id} {f.company}" if f.interview_id else "-"
        if f.kind == "note":
            step, to = f"note: {f.step.replace('_', ' ')}", "you"
        else:
            step, to = f.step, name if f.contact_id is None else f"{name} <{address}>"
        rows.append(
            [
                str(f.id),
                about,
                step,
                to,
                local(f.due_at, user_zone),
                f"{local(f.due_at, zone)} {zone.key}",
                status_text(f, user_zone, rule),
            ]
        )
    return table(headers, rows)


def interview_text(
    i: Interview, followups: list[FollowUp], user_zone: ZoneInfo, rule: ReviewRule | None = None
) -> str:
    zone = ZoneInfo(i.timezone)
    start = i.starts_at.astimezone(zone)
    lines = [
        f"Interview {i.id}: {i.company} — {i.role} [{i.status}]",
        f"  When:      {start:%a %Y-%m-%d %H:%M} {zone.key}, {i.duration_minutes} min"
        + (
            f" ({local(i.starts_at, user_zone)} {user_zone.key})"
            if zone.key != user_zone.key
            else ""
        ),
    ]
    if i.location:
        lines.append(f"  Where:     {i.location}")
    for n, c in enumerate(c for c in i.contacts if not c.removed):
        parts = [", ".join(x for x in (c.title, c.phone) if x)]
        parts += [
            f"topic: {c.topic}" if c.topic else "",
            f"greeting: {c.greeting}" * bool(c.greeting),
        ]
        extra = "; ".join(p for p in parts if p)
        label = "Contacts:" if n == 0 else ""
        lines.append(f"  {label:<10} {c.name} <{c.email}>" + (f" ({extra})" if extra else ""))
    if i.decision_date:
        lines.append(f"  Decision:  {i.decision_date:%a %Y-%m-%d}")
    for n, q in enumerate(i.questions or []):
        label = "Questions:" if n == 0 else ""
        lines.append(f"  {label:<10} - {q}")
    if i.notes:
        lines.append("  Notes:     " + i.notes.replace("\n", "\n             "))
    lines.append("")
    lines.append("Follow-ups:" if followups else "No follow-ups planned.")
    if followups:
        lines.append(followup_rows(map(Listed.of, followups), user_zone, rule))
    return "\n".join(lines)


def reply_json(reply: InboxMessage) -> dict:
    """A reply recorded for an interview, for scripts."""
    return {
        "from": reply.sender,
        "subject": reply.subject,
        "date": iso_utc(reply.sent_date),
        "message_id": None if reply.source == "manual" else reply.message_id,
        "hiring": reply.hiring,
        "source": reply.source,
    }


def reply_text(reply: InboxMessage, zone: ZoneInfo) -> str:
    when = local(reply.sent_date, zone) if reply.sent_date else "-"
    how = "recorded by you" if reply.source == "manual" else f"from {reply.sender}"
    label = f" [{reply.hiring}]" if reply.hiring and reply.hiring != "other" else ""
    return f"Reply {when}: {how}: {reply.subject}{label}"
