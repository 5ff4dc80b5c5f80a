"""`followup health`: one line and exit 0 (healthy) or 1, for Compose healthchecks, systemd and
monitors."""

from __future__ import annotations

import click

from service.cli.app import App, cli, emit, json_option, pass_app


@cli.command("health")
@click.option(
    "--web", "web_url", help="Also check that the web app answers this URL (e.g. /healthz)."
)
@click.option(
    "--this-host",
    is_flag=True,
    help="Only a worker running on this host counts (in a container: this container).",
)
@click.option("--no-worker", is_flag=True, help="Do not check the worker (with --web).")
@json_option
@pass_app
def health_cmd(
    app: App, web_url: str | None, this_host: bool, no_worker: bool, as_json: bool
) -> None:
    """Exit 0 when a worker beat within the last three ticks and is not paused (and the web
    app answers, with --web); exit 1 otherwise, saying why."""
    from service.errors import UsageError
    from service.health import Finding, check_web, check_workers

    if no_worker and not web_url:
        raise UsageError("--no-worker leaves nothing to check: give --web URL too")
    findings: list[Finding] = []
    if not no_worker:
        try:
            findings.append(
                check_workers(app.ready_db(), app.now(), app.settings.tick, this_host=this_host)
            )
        except Exception as exc:  # an unreachable database is unhealthy, not a usage error
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
            findings.append(Finding(False, "database", f"cannot be read: {reason}"))
    if web_url:
        findings.append(check_web(web_url))
    healthy = all(f.ok for f in findings)
    if as_json:
        emit(
            {
                "healthy": healthy,
                "checks": [{"name": f.what, "ok": f.ok, "detail": f.detail} for f in findings],
            }
        )
    else:
        for f in findings:
            click.echo(f"{'ok' if f.ok else 'unhealthy'}  {f.what}: {f.detail}")
    if not healthy:
        from service.errors import FollowupError

        failed = next(f for f in findings if not f.ok)
        raise FollowupError(f"unhealthy: {failed.what}: {failed.detail}")


@cli.group("service")
def service_group() -> None:
    """Run the worker as a systemd user service (restarts after a crash, not on bad settings)."""


@service_group.command("install")
@click.option("--user", "user", is_flag=True, default=True, help="A user unit (the default).")
@click.option("--print", "print_only", is_flag=True, help="Print the unit; write nothing.")
@click.option("--force", is_flag=True, help="Replace a unit file that differs.")
@pass_app
def service_install_cmd(app: App, user: bool, print_only: bool, force: bool) -> None:
    """Write ~/.config/systemd/user/followup-worker.service for this followup and these settings
    (the .env found from this folder), then say how to start it."""
    import os
    import shutil
    import sys
    from pathlib import Path

    from service import systemd
    from service.errors import UsageError
    from service.outfile import atomic_path

    settings = app.settings  # checked now: a unit for settings that do not load would exit 78
    executable = shutil.which("followup") or str(Path(sys.argv[0]).resolve())
    if sys.argv[0] and Path(sys.argv[0]).name == "followup" and Path(sys.argv[0]).exists():
        executable = str(Path(sys.argv[0]).resolve())
    text = systemd.unit_text(executable, workdir=settings.workdir, env_file=settings.env_file)
    if print_only:
        click.echo(text, nl=False)
        return
    path = systemd.unit_path()
    if path.exists() and path.read_text(encoding="utf-8") != text and not force:
        raise UsageError(f"{path} exists and differs: give --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o644)
    click.echo(f"wrote {path}")
    shell_only = sorted(
        name
        for name in os.environ
        if name.startswith("FOLLOWUP_") and name not in ("FOLLOWUP_ENV_FILE",)
    )
    if shell_only:
        click.echo(
            f"note: {', '.join(shell_only)} set in this shell will not reach the service: "
            f"put them in {settings.env_file or systemd.unit_path().parent}",
        )
    click.echo(
        "start it with:\n"
        "  systemctl --user daemon-reload\n"
        f"  systemctl --user enable --now {systemd.UNIT_NAME.removesuffix('.service')}\n"
        "keep it running when you are logged out (and start it at boot):\n"
        '  loginctl enable-linger "$USER"'
    )
