"""The inbox: reads the user's mailbox over IMAP (read-only) and acts on replies, auto-replies
and bounces that concern an interview.

Modules: `settings` (FOLLOWUP_IMAP_*), `message` (raw bytes -> Incoming), `autoreply`, `bounce/`,
`hiring`, `returndate`, `classify` (what a message is), `match` (which interview it concerns),
`actions` (what followup does about it), `reader` (IMAP), `check` (one pass: `check_inbox`),
`sent` (copies in the Sent folder, uncertain follow-ups), `doctor` (the set-up check).
"""
