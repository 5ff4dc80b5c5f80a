"""Mail provider presets for `followup init`: servers, ports and security, and what each
provider wants for a login (an app password, OAuth2) with the page where it is made."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    """One provider's settings, as its own help pages give them."""

    key: str
    label: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    imap_host: str
    imap_port: int
    imap_security: str
    #: FOLLOWUP_SMTP_AUTH values it accepts, the recommended one first.
    auth: tuple[str, ...]
    #: What the user needs to log in, in one sentence.
    login: str
    #: Where that is made or switched on.
    page: str
    notes: tuple[str, ...] = ()
    #: Further settings the provider calls for (e.g. FOLLOWUP_IMAP_SENT=off).
    extra: dict[str, str] = field(default_factory=dict)
    #: The server presents a certificate of its own: ask for its PEM file.
    needs_ca_file: bool = False


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in [
        Preset(
            "gmail",
            "Gmail / Google Workspace",
            "smtp.gmail.com", 587, "starttls",
            "imap.gmail.com", 993, "ssl",
            auth=("password", "xoauth2"),
            login="an app password (it needs 2-Step Verification on your Google Account), or "
            "OAuth2 with a token helper where your Workspace administrator turned app "
            "passwords off",
            page="https://myaccount.google.com/apppasswords",
            notes=(
                "IMAP must be allowed: Gmail settings, Forwarding and POP/IMAP.",
                "Gmail files mail sent through it in Sent by itself: followup adds no copy.",
            ),
        ),
        Preset(
            "outlook",
            "Outlook.com / Microsoft 365",
            "smtp.office365.com", 587, "starttls",
            "outlook.office365.com", 993, "ssl",
            auth=("xoauth2", "password"),
            login="OAuth2: Outlook.com accounts require it, and Microsoft 365 turns basic "
            "authentication for SMTP off for existing tenants by default at the end of "
            "December 2026 (a password works only where your administrator still allows it)",
            page="https://support.microsoft.com/office/pop-imap-and-smtp-settings-for-outlook-com"
            "-d088b986-291d-42b8-9564-9c414e2aa040",
            notes=(
                "Microsoft 365: your administrator must allow authenticated SMTP (SMTP AUTH) "
                "and IMAP for your mailbox.",
                "Exchange keeps mail sent over SMTP in Sent Items itself: followup adds no copy "
                "(FOLLOWUP_IMAP_SENT=off).",
            ),
            extra={"FOLLOWUP_IMAP_SENT": "off"},
        ),
        Preset(
            "icloud",
            "iCloud Mail",
            "smtp.mail.me.com", 587, "starttls",
            "imap.mail.me.com", 993, "ssl",
            auth=("password",),
            login="an app-specific password (Apple Account, Sign-In and Security, App-Specific "
            "Passwords); log in with your full iCloud address",
            page="https://support.apple.com/en-us/102654",
        ),
        Preset(
            "fastmail",
            "Fastmail",
            "smtp.fastmail.com", 465, "ssl",
            "imap.fastmail.com", 993, "ssl",
            auth=("password",),
            login="an app password (Settings, Privacy & Security, Integrations, New app "
            "password) with access to Mail; your normal password does not work over SMTP",
            page="https://www.fastmail.com/help/clients/apppassword.html",
        ),
        Preset(
            "yahoo",
            "Yahoo Mail",
            "smtp.mail.yahoo.com", 465, "ssl",
            "imap.mail.yahoo.com", 993, "ssl",
            auth=("password",),
            login="an app password (Account Info, Account Security, Generate app password)",
            page="https://help.yahoo.com/kb/SLN15241.html",
        ),
        Preset(
            "proton",
            "Proton Mail (through Proton Mail Bridge)",
            "127.0.0.1", 1025, "starttls",
            "127.0.0.1", 1143, "starttls",
            auth=("password",),
            login="Proton Mail Bridge running on this machine, and the username and password "
            "Bridge shows for your account (not your Proton password)",
            page="https://proton.me/support/protonmail-bridge-install",
            notes=(
                "Bridge uses a certificate of its own: export it (Bridge settings, Advanced "
                "settings, Export TLS certificates) and give its cert.pem when asked.",
            ),
            needs_ca_file=True,
        ),
    ]
}  # fmt: skip

#: Choices of `followup init --provider`, in the order the wizard lists them.
PROVIDERS = (*PRESETS, "other", "none")
LABELS = {
    **{key: p.label for key, p in PRESETS.items()},
    "other": "another provider (you enter the servers)",
    "none": "no mail server for now: write every email to the outbox folder",
}
