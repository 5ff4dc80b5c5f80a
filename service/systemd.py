"""The systemd user unit that runs the worker, as `followup service install --user` writes it
(docs/systemd/followup-worker.service is the same unit for a pipx install)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

UNIT_NAME = "followup-worker.service"

#: Exit status of a configuration error (EX_CONFIG): systemd does not restart on it.
EX_CONFIG = 78

TEMPLATE = """\
# followup's worker as a systemd user service (README: "Run it as a service"). It starts with
# your session (or at boot, after `loginctl enable-linger`), tells systemd when it is ready,
# restarts after a crash or a lost database, and does not restart in a loop on a configuration
# error (exit {ex_config}): fix .env, then `systemctl --user restart followup-worker`.
#
#   systemctl --user daemon-reload
#   systemctl --user enable --now followup-worker
#   journalctl --user -u followup-worker -f       # its log
#   systemctl --user reload followup-worker       # re-read .env and the plan now (SIGHUP)
#   followup health                               # exit 0 when it beat within three ticks

[Unit]
Description=followup worker: sends your interview follow-up emails
# A crash loop of another cause (the database unreachable for long) stops after 5 tries in 10
# minutes; `systemctl --user reset-failed followup-worker` to try again sooner.
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
{settings}ExecStart={executable} worker
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=10
RestartPreventExitStatus={ex_config}
# Time for the message in flight to finish (FOLLOWUP_SMTP_TIMEOUT is 30s by default).
TimeoutStopSec=90
# Optional: restart a worker that stops beating. Keep it above three times FOLLOWUP_TICK.
#WatchdogSec=300

[Install]
WantedBy=default.target
"""


def unit_text(
    executable: str,
    *,
    workdir: Path | str | None = None,
    env_file: Path | None = None,
    specifiers: bool = False,
) -> str:
    """The unit for `executable` (the followup command), reading `env_file` from `workdir`.

    With `specifiers`, the paths may use systemd's (%h: the home folder) and are not escaped.
    """

    def escape(value: str) -> str:
        return value if specifiers else value.replace("%", "%%")

    lines = []
    if workdir is not None:
        # The whole value is the path (spaces and all): only % needs escaping.
        lines.append(f"WorkingDirectory={escape(str(workdir))}")
    if env_file is not None:
        lines.append(f"Environment={_quoted(escape(f'FOLLOWUP_ENV_FILE={env_file}'))}")
    settings = "".join(line + "\n" for line in lines)
    executable = _quoted(escape(executable))
    return TEMPLATE.format(executable=executable, settings=settings, ex_config=EX_CONFIG)


def documented_unit() -> str:
    """docs/systemd/followup-worker.service: for followup installed with pipx, settings in
    ~/.config/followup/.env."""
    return unit_text("%h/.local/bin/followup", workdir="%h", specifiers=True)


def unit_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where systemd looks for the user's own units."""
    environ = os.environ if environ is None else environ
    config = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user" / UNIT_NAME


def _quoted(value: str) -> str:
    """A value as systemd reads it: quoted (and \\ and " escaped) when it has spaces."""
    if not any(c.isspace() or c == '"' for c in value):
        return value
    value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'
