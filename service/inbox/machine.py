"""Machine mail that is no person's answer: list and bulk mail, applicant-tracking systems, role
and no-reply senders, delivery reports no bounce format reads, mail with an empty return path.

Each rule looks at headers and the sender only and returns the reason it matched, or None.
"""

from __future__ import annotations

import re

from service.inbox.message import Incoming

#: Headers of mailing lists (RFC 2369, RFC 2919, RFC 8058).
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post", "List-Unsubscribe-Post")
#: Precedence values of list and bulk mail (RFC 3834 section 2 says never to answer them).
BULK_PRECEDENCE = ("bulk", "list", "junk")
#: Header names (or their start) that email service providers put on campaigns: Mailchimp,
#: SendGrid, Salesforce Marketing Cloud, Marketo, the Certified Senders Alliance; `Feedback-ID`
#: is the bulk senders' feedback-loop header (Gmail's Postmaster Tools).
ESP_HEADERS = (
    "x-mailchimp",
    "x-mc-user",
    "x-campaign",
    "x-campaignid",
    "x-sg-eid",
    "x-sfmc-stack",
    "x-marketoid",
    "x-csa-complaints",
    "feedback-id",
)

#: Senders that are no person: no-reply and notification addresses.
NO_REPLY = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|noreply|notifications?|notify|newsletters?|news"
    r"|marketing|mailer|bounces?|alerts?|updates?|automated|auto-?confirm)([+._-].*)?$",
    re.IGNORECASE,
)
#: Role addresses of a company's hiring (`careers@`, `jobs@`, `recruiting@` ...): people do write
#: from some of them, but what comes from a role address is not one person's answer, so it is
#: shown to the user rather than acted on. `hr@` is on the list (a shared department inbox);
#: `info@` and `support@` are not (at small companies, people answer from them).
ROLE = re.compile(
    r"^(careers?|jobs?|recruiting|recruitment|recruiters?|talent|talent-?acquisition|hr"
    r"|hiring|applications?|apply|bewerbung(en)?|karriere)([+._-].*)?$",
    re.IGNORECASE,
)
#: Senders of delivery reports.
DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
#: Subjects of delivery reports, in the languages mail servers write them.
REPORT_SUBJECTS = re.compile(
    r"undeliver|delivery status notification|delivery (failure|has failed|failed|notification)"
    r"|mail delivery failed|failure notice|returned mail|delayed mail|nondeliverable"
    r"|non-delivery|unzustellbar|nicht zugestellt|non remis|non distribu|no se puede entregar"
    r"|no entregado",
    re.IGNORECASE,
)

#: Applicant-tracking systems: the domains they send from (and their subdomains).
ATS_DOMAINS = {
    "greenhouse.io": "Greenhouse",
    "greenhouse-mail.io": "Greenhouse",
    "lever.co": "Lever",
    "myworkday.com": "Workday",
    "myworkdayjobs.com": "Workday",
    "workday.com": "Workday",
    "ashbyhq.com": "Ashby",
    "ashbymail.com": "Ashby",
    "smartrecruiters.com": "SmartRecruiters",
    "smartrecruitersmail.com": "SmartRecruiters",
    "icims.com": "iCIMS",
    "taleo.net": "Taleo",
    "workable.com": "Workable",
    "workablemail.com": "Workable",
    "personio.de": "Personio",
    "personio.com": "Personio",
    "teamtailor.com": "Teamtailor",
    "teamtailor-mail.com": "Teamtailor",
    "jobvite.com": "Jobvite",
    "bamboohr.com": "BambooHR",
    "recruitee.com": "Recruitee",
    "successfactors.com": "SAP SuccessFactors",
    "successfactors.eu": "SAP SuccessFactors",
    "breezy.hr": "Breezy HR",
    "applytojob.com": "JazzHR",
    "softgarden.io": "softgarden",
    "join.com": "JOIN",
    "pinpointhq.com": "Pinpoint",
}
#: Header names (or their start) the systems add to what they send.
ATS_HEADERS = {
    "x-greenhouse": "Greenhouse",
    "x-lever": "Lever",
    "x-ashby": "Ashby",
    "x-workable": "Workable",
    "x-teamtailor": "Teamtailor",
    "x-icims": "iCIMS",
    "x-smartrecruiters": "SmartRecruiters",
    "x-personio": "Personio",
    "x-workday": "Workday",
}


def _domain(value: str) -> str:
    found = re.search(r"@([A-Za-z0-9.-]+)", value)
    return found.group(1).lower().rstrip(".") if found else ""


def _system(domain: str) -> str | None:
    """The applicant-tracking system a domain (or a subdomain of it) belongs to."""
    parts = domain.split(".")
    for start in range(len(parts) - 1):
        name = ATS_DOMAINS.get(".".join(parts[start:]))
        if name:
            return name
    return None


def tracking_system_reason(message: Incoming) -> str | None:
    """Why the message comes from an applicant-tracking system, or None."""
    name = _system(_domain(message.sender))
    if name:
        return f"sent by an applicant-tracking system ({name}, {message.sender}), not a person"
    for header in ("Return-Path", "Sender", "Message-ID"):
        name = _system(_domain(message.header(header)))
        if name:
            return f"sent through an applicant-tracking system ({name}, its {header})"
    for field in message.fields:
        for start, name in ATS_HEADERS.items():
            if field.startswith(start):
                return f"sent through an applicant-tracking system ({name}, {field} header)"
    return None


def bulk_reason(message: Incoming) -> str | None:
    """Why the message is list or bulk mail (a newsletter, a campaign), or None."""
    for name in LIST_HEADERS:
        if message.has(name):
            return f"list mail ({name} header)"
    precedence = message.header("Precedence").lower()
    if precedence in BULK_PRECEDENCE:
        return f"bulk mail (Precedence: {precedence})"
    for field in message.fields:
        if field.startswith(ESP_HEADERS):
            return f"bulk mail from an email service provider ({field} header)"
    return None


#: A subject a person's answer starts with ("Re: Delivery failure" quotes a report, it is none).
_ANSWER = re.compile(r"^\s*(re|aw|sv|antw|r|rif)\s*:", re.IGNORECASE)


def report_reason(message: Incoming) -> str | None:
    """A delivery report that no bounce format could read: still no person's answer."""
    if (
        message.content_type == "multipart/report"
        or message.has("X-Failed-Recipients")
        or message.sender.split("@")[0] in DAEMONS
        or "mail delivery" in message.sender_name.lower()
        or (REPORT_SUBJECTS.search(message.subject) and not _ANSWER.match(message.subject))
    ):
        return "a delivery report whose recipient could not be read"
    return None


def sender_reason(message: Incoming) -> str | None:
    """Why the sender is a role or no-reply address, or the envelope is empty, or None."""
    local = message.sender.split("@")[0]
    if NO_REPLY.match(local):
        return f"sent from a no-reply address ({message.sender}), not a person"
    if ROLE.match(local):
        return f"sent from a role address ({message.sender}), not one person's answer"
    if message.header("Return-Path").strip() == "<>":
        return "sent with an empty return path (Return-Path: <>), as only machines send"
    return None
