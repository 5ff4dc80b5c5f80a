"""The order of `followup init`: answers (asked or from flags), the settings they make, the
connection check, then the settings file, written once everything checked out."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from service.errors import FollowupError, UsageError
from service.passwords import suggestion
from service.setup import apply, envfile, wizard
from service.setup.wizard import Answers


def target_file(user: bool) -> Path:
    """Where the settings go: ./.env, or the user's own file (~/.config/followup/.env)."""
    from service.config import user_env_file

    return user_env_file() if user else Path.cwd() / ".env"


def run_init(
    answers: Answers,
    *,
    interactive: bool,
    user: bool,
    force: bool,
    check: bool,
    now: datetime,
) -> Path:
    """Ask, check and write; returns the file written. Nothing is written unless the settings
    are accepted and (unless `check` is off) the servers took the login."""
    target = target_file(user)
    if not force and (target.exists() or target.is_symlink()):
        # Said before any question: answering them all to be refused at the end helps nobody.
        raise UsageError(
            f"{target} already exists: nothing was changed (run again with --force to replace "
            "it; a backup of it is kept)"
        )
    answers = wizard.interactive(answers) if interactive else wizard.complete(answers)
    values = apply.values_for(answers)
    settings = apply.settings_of(values, target.parent)
    if check and (settings.smtp is not None or settings.imap is not None):
        click.echo("Checking the connection (nothing is sent)...")
        results = apply.check_connections(settings)
        for result in results:
            click.echo(f"  {'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
        if not all(r.ok for r in results):
            keep = interactive and wizard.ask(
                "Write the settings anyway, to fix them later? (y/n)", wizard.yes_no, "n"
            )
            if not keep:
                raise FollowupError(
                    "the connection check failed, so nothing was written: fix what it says and "
                    "run `followup init` again (or add --no-check to write the settings anyway)"
                )
    text = envfile.render(values, apply.COMMENTS, apply.HEADER)
    backup = envfile.write(target, text, force=force, now=now)
    if backup is not None:
        click.echo(f"The old settings are kept in {backup}.")
    click.echo(f"Wrote {target} (readable by you only).")
    named = os.environ.get("FOLLOWUP_ENV_FILE", "").strip()
    if named and Path(named).expanduser().resolve() != target.resolve():
        click.echo(f"Note: FOLLOWUP_ENV_FILE={named} is set, so followup reads that file instead.")
    click.echo("Next: `followup migrate`, then `followup doctor`, then `followup worker`.")
    click.echo(
        "The web app (`followup serve`) makes its password at its first start; to choose your "
        f"own, set FOLLOWUP_WEB_PASSWORD in {target}, e.g. to {suggestion()}"
    )
    return target
