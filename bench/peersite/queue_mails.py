"""Queue N mails with django-post_office (untimed set-up for bench/peers.py).

python -m peersite.queue_mails N SENDER SUBJECT BODY   (BODY has {name} and {n})

Recipient i is bench/_names.py's person_name(i) <pi@acme.example>, greeted by first name, as
for the other contenders.
"""

import sys

import django

django.setup()

from _names import first_name, person_name  # noqa: E402
from post_office import mail  # noqa: E402
from post_office.models import STATUS, Email  # noqa: E402

n, sender, subject, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
mail.send_many(
    [
        {
            "sender": sender,
            "recipients": [f"{person_name(i)} <p{i}@acme.example>"],
            "subject": subject,
            "message": body.format(name=first_name(i), n=i),
            "priority": "medium",
        }
        for i in range(1, n + 1)
    ]
)
queued = Email.objects.filter(status=STATUS.queued).count()
if queued != n:
    sys.exit(f"queued {queued} mails, expected {n}")
