"""Django settings for bench/peers.py (run in the peers' own venv, never the project's).

PEERS_DB: an absolute SQLite path, or "user:host:port:dbname" for Postgres.
PEERS_SMTP_PORT: the benchmark's SMTP sink on 127.0.0.1 (plain SMTP, no login).
PEERS_PO_THREADS: optional, post_office's THREADS_PER_PROCESS.
Everything else is Django's and django-post_office's defaults.
"""

import os

SECRET_KEY = "bench-only"
USE_TZ = True
INSTALLED_APPS = ["post_office"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_db = os.environ["PEERS_DB"]
if _db.startswith("/"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}
else:
    _user, _host, _port, _name = _db.split(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "USER": _user,
            "HOST": _host,
            "PORT": _port,
        }
    }

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("PEERS_SMTP_PORT", "25"))
POST_OFFICE = {"BACKENDS": {"default": EMAIL_BACKEND}}
if os.environ.get("PEERS_PO_THREADS"):  # an experiment; by default post_office's own default (5)
    POST_OFFICE["THREADS_PER_PROCESS"] = int(os.environ["PEERS_PO_THREADS"])
