"""Approve links of the review digest: signed, single-use tokens that expire with the
follow-up's review window. Opening one shows the message; only a POST approves (web/digest.py).

A token is `NONCE.HASH.SIGNATURE`: HASH is the content hash of the text the digest announced
(base64url), SIGNATURE the HMAC-SHA256 of `NONCE.HASH` under a key kept in the database (shared
by the worker that writes the digest and the web app that checks it); the follow-up is approved
only while its text is still that one. Links of older digests, `NONCE.SIGNATURE`, carry no hash.
The database keeps only a hash of the token, with its follow-up, expiry and the moment it was
used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import Database
from service.errors import FollowupError, UsageError
from service.models import ApproveLink, FollowUp, WebSecret

#: A follow-up with no expiry of its own: its link works this long after it is due.
FALLBACK_LIFETIME = timedelta(days=7)
KEY_NAME = "link_key"
PATH = "/approve/"


class LinkRefused(UsageError):
    """The link cannot be used: forged or cut short, used already, or expired."""


@dataclass(frozen=True)
class NewLink:
    followup_id: int
    url: str
    token_hash: str
    expires_at: datetime


def secret(db: Database, name: str, make: Callable[[], str], now: datetime) -> str:
    """A secret stored under `name`, created with `make()` the first time it is asked for."""
    with db.reading() as session:
        found = session.get(WebSecret, name)
        if found is not None:
            return found.value
    try:
        with db.transaction() as session:
            session.add(WebSecret(name=name, value=make(), created_at=now))
    except IntegrityError:
        pass  # another process made it first: use theirs
    with db.reading() as session:
        stored = session.get(WebSecret, name)
        if stored is None:  # made, then removed by another process: nothing to fall back on
            raise FollowupError(f"the web secret {name} vanished as it was made: try again")
        return stored.value


def _key(db: Database, now: datetime) -> bytes:
    return bytes.fromhex(secret(db, KEY_NAME, lambda: secrets.token_hex(32), now))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _sign(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, b"approve:" + signed.encode("ascii"), hashlib.sha256).digest()[:18])


def _hash_part(content_hash: str | None) -> str:
    """The token's HASH: a content hash (hex SHA-256) in base64url, 43 characters."""
    try:
        raw = bytes.fromhex(content_hash or "")
    except ValueError:
        raw = b""
    return _b64(raw) if len(raw) == 32 else ""


def _parts(token: str) -> tuple[str, str, str]:
    """(what is signed, HASH or "", SIGNATURE) of a token."""
    parts = token.split(".")
    if len(parts) == 2:  # an older link: NONCE.SIGNATURE
        return parts[0], "", parts[1]
    if len(parts) == 3:
        return f"{parts[0]}.{parts[1]}", parts[1], parts[2]
    return "", "", ""


def seen_hash(token: str) -> str | None:
    """The content hash a (checked) token carries: the text the digest announced."""
    hashed = _parts(token)[1]
    if not hashed:
        return None
    try:
        return base64.urlsafe_b64decode(hashed + "=").hex()
    except ValueError:
        return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def expiry(f: FollowUp, now: datetime) -> datetime:
    """The end of the follow-up's review window: its own expiry, else a week after it is due."""
    if f.expires_at is not None:
        return f.expires_at
    return max(f.due_at, now) + FALLBACK_LIFETIME


def prepare(
    db: Database, base_url: str | None, rows: Sequence[FollowUp], now: datetime
) -> dict[int, NewLink]:
    """An approve link for each follow-up (none without FOLLOWUP_WEB_URL); store() saves them."""
    if not base_url or not rows:
        return {}
    key = _key(db, now)
    links: dict[int, NewLink] = {}
    for f in rows:
        signed = _b64(secrets.token_bytes(18))
        hashed = _hash_part(f.content_hash)
        if hashed:
            signed += "." + hashed
        token = f"{signed}.{_sign(key, signed)}"
        links[f.id] = NewLink(f.id, base_url + PATH + token, token_hash(token), expiry(f, now))
    return links


def store(session: Session, links: Iterable[NewLink], now: datetime) -> None:
    """Save links in the transaction that queues the digest carrying them."""
    session.add_all(
        ApproveLink(
            token_hash=link.token_hash,
            followup_id=link.followup_id,
            created_at=now,
            expires_at=link.expires_at,
        )
        for link in links
    )


FORGED = (
    "this approve link is not valid: it may have been cut short by your mail program, or "
    "changed. Open the review queue instead"
)


def check(db: Database, token: str, now: datetime) -> ApproveLink:
    """The stored link of a token, or LinkRefused saying why it cannot be used."""
    signed, _, signature = _parts(token)
    if not (signed and signature and token.isascii() and len(token) < 120):
        raise LinkRefused(FORGED)
    if not hmac.compare_digest(_sign(_key(db, now), signed), signature):
        raise LinkRefused(FORGED)
    with db.reading() as session:
        link = session.scalar(
            select(ApproveLink).where(ApproveLink.token_hash == token_hash(token))
        )
    if link is None:
        raise LinkRefused(FORGED)
    if link.used_at is not None:
        raise LinkRefused(
            f"this approve link was used already ({link.used_at:%Y-%m-%d %H:%M} UTC): each link "
            "works once. Open the review queue to see follow-up "
            f"{link.followup_id}"
        )
    if now >= link.expires_at:
        raise LinkRefused(
            f"this approve link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC, with the review "
            f"window of follow-up {link.followup_id}"
        )
    return link


def use(db: Database, token: str, now: datetime) -> ApproveLink:
    """Spend a link: checked, then marked used by a guarded update that only one request wins."""
    link = check(db, token, now)
    with db.transaction() as session:
        result = session.execute(
            update(ApproveLink)
            .where(ApproveLink.id == link.id, ApproveLink.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        won = cast(CursorResult[Any], result).rowcount  # an UPDATE's result has a rowcount
    if won != 1:
        raise LinkRefused("this approve link was used already: each link works once")
    return link


def release(db: Database, link: ApproveLink, used_at: datetime) -> None:
    """Give a spent link back when the approval it was spent on was refused (the text changed,
    or the follow-up is no longer waiting): the user may try again once it can be approved."""
    with db.transaction() as session:
        session.execute(
            update(ApproveLink)
            .where(ApproveLink.id == link.id, ApproveLink.used_at == used_at)
            .values(used_at=None)
            .execution_options(synchronize_session=False)
        )
