"""The follow-up state machine in one table: which state may become which, who makes the move.

`events.transition` refuses any move that is not listed here, so this table is the whole truth
about how a follow-up's status can change. Statuses are stored as strings (`models.Status`).
"""

from __future__ import annotations

from service.models import Status as S

#: (from, to) -> who makes the move and why.
MOVES: dict[tuple[str, str], str] = {
    # Planned: waiting for its time (and, under review, for the review lead).
    (S.PLANNED, S.PLANNED): "interview update: re-timed",
    (S.PLANNED, S.PENDING_REVIEW): "worker: it needs approval now, or gives pause (held)",
    (S.PLANNED, S.SENDING): "worker: its own SMTP transaction is starting",
    (S.PLANNED, S.CANCELLED): "user, interview closed or changed, or a reply came",
    (S.PLANNED, S.EXPIRED): "worker or interview update: too late to send",
    (S.PLANNED, S.FAILED): "worker: its template does not render",
    (S.PLANNED, S.DEFERRED): "worker: its render ran over the CPU budget; tried again later",
    (S.PLANNED, S.REJECTED): "user: rejected it",
    # In the review queue: rendered, waiting for the user.
    (S.PENDING_REVIEW, S.PENDING_REVIEW): "user edited or snoozed it; or back with new text",
    (S.PENDING_REVIEW, S.APPROVED): "user: approved this exact text",
    (S.PENDING_REVIEW, S.REJECTED): "user: rejected it",
    (S.PENDING_REVIEW, S.CANCELLED): "user, interview closed or changed, or a reply came",
    (S.PENDING_REVIEW, S.EXPIRED): "worker or interview update: not approved in time",
    (S.PENDING_REVIEW, S.FAILED): "worker: its template no longer renders",
    # Approved: this text goes when due.
    (S.APPROVED, S.APPROVED): "interview update: re-timed",
    (S.APPROVED, S.SENDING): "worker: its own SMTP transaction is starting",
    (S.APPROVED, S.PENDING_REVIEW): "worker or interview update: what it was made of changed",
    (S.APPROVED, S.REJECTED): "user: rejected it",
    (S.APPROVED, S.CANCELLED): "user, interview closed or changed, or a reply came",
    (S.APPROVED, S.EXPIRED): "worker or interview update: too late to send",
    (S.APPROVED, S.DEFERRED): "worker: its render ran over the CPU budget; tried again later",
    # Deferred: a temporary failure (or the user's retry); goes again at retry_at.
    (S.DEFERRED, S.DEFERRED): "user: retry now; or worker: its render ran over the CPU budget",
    (S.DEFERRED, S.SENDING): "worker: its own SMTP transaction is starting",
    (S.DEFERRED, S.PENDING_REVIEW): "worker: it needs approval now, or gives pause (held)",
    (S.DEFERRED, S.CANCELLED): "user, interview closed or changed, or a reply came",
    (S.DEFERRED, S.EXPIRED): "worker: too late to send",
    (S.DEFERRED, S.FAILED): "worker: its template does not render",
    # Sending: committed after its envelope, before its DATA; only the outcome (or a release
    # by the sweep) ends it.
    (S.SENDING, S.SENT): "worker: the server accepted it",
    (S.SENDING, S.DEFERRED): "worker: a temporary failure (4xx, connection)",
    (S.SENDING, S.FAILED): "worker: a permanent failure (5xx)",
    (S.SENDING, S.UNCERTAIN): "worker: lost after the data; or found stuck after a crash",
    (S.SENDING, S.PLANNED): "worker: released, its data never went out",
    (S.SENDING, S.APPROVED): "worker: released, its data never went out",
    # Restored from a backup: due since the backup was taken, it may have gone out from the
    # old database in the meantime; the user (or the Sent folder) decides.
    (S.PLANNED, S.UNCERTAIN): "restore: due since the backup, it may have gone out meanwhile",
    (
        S.PENDING_REVIEW,
        S.UNCERTAIN,
    ): "restore: due since the backup, it may have gone out meanwhile",
    (S.APPROVED, S.UNCERTAIN): "restore: due since the backup, it may have gone out meanwhile",
    (S.DEFERRED, S.UNCERTAIN): "restore: due since the backup, it may have gone out meanwhile",
    # Uncertain: the server may have it; only the user (or the mailbox) decides.
    (S.UNCERTAIN, S.SENT): "worker: the real outcome came late, or it is in the Sent folder",
    (S.UNCERTAIN, S.DEFERRED): "user: retry (same Message-ID)",
    (S.UNCERTAIN, S.FAILED): "worker: the real outcome came late",
    (S.UNCERTAIN, S.CANCELLED): "user: it was sent, or should not be",
    (S.UNCERTAIN, S.BOUNCED): "inbox: a bounce names it, so it was sent, and came back",
    # Ended, but the user may change their mind, or a corrected interview may call for it.
    (S.FAILED, S.DEFERRED): "user: retry",
    (S.FAILED, S.CANCELLED): "user: drop it",
    (S.EXPIRED, S.DEFERRED): "user: retry",
    (S.EXPIRED, S.PLANNED): "interview update: restored, the corrected interview calls for it",
    (S.EXPIRED, S.CANCELLED): "user: drop it",
    (S.CANCELLED, S.PLANNED): "interview update: restored, the corrected interview calls for it",
    # After delivery: the mailbox may tell that it bounced.
    (S.SENT, S.BOUNCED): "inbox: a bounce names its recipient",
}


def allowed(frm: str, to: str) -> bool:
    return (str(frm), str(to)) in _MOVES


_MOVES = {(str(a), str(b)) for a, b in MOVES}
