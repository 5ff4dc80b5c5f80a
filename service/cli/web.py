"""`followup serve`: the web pages and the JSON API (and, with --with-worker, the worker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from service.cli.app import App, cli, pass_app

if TYPE_CHECKING:
    from service.config import Settings
    from service.db import Database


@cli.command("serve")
@click.option("--host", help="Address to listen on (default FOLLOWUP_WEB_HOST, else 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(min=1, max=65535),
    help="Port to listen on (default FOLLOWUP_WEB_PORT, else 8080).",
)
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also run `followup worker` beside it (what `make run` does).",
)
@click.option(
    "--new-password",
    is_flag=True,
    help="Forget the generated login password and print a new one (without FOLLOWUP_WEB_PASSWORD).",
)
@click.option(
    "--wait-for-settings",
    is_flag=True,
    help="On a settings error, say so and wait for the fix instead of exiting 78 (containers).",
)
@pass_app
def serve_cmd(
    app: App,
    host: str | None,
    port: int | None,
    with_worker: bool,
    new_password: bool,
    wait_for_settings: bool,
) -> None:
    """Serve the web pages and the JSON API until Ctrl-C.

    It listens on 127.0.0.1:8080 unless told otherwise, and refuses any other address unless
    FOLLOWUP_WEB_PASSWORD is set. Without it, a password is made at the first start and printed
    once. It re-reads .env and the plan file when they change, or at once on SIGHUP.
    """
    from service.config.web import check_bind_host
    from service.web.server import check_bind, serve

    if host is not None:  # a mistyped flag is a usage error (exit 2)
        host = check_bind_host(host, "--host")

    def start() -> tuple[Settings, Database]:
        settings = app.settings
        if host is None:  # where the settings say: one that does not check out exits 78
            check_bind(settings, settings.web.host, port or settings.web.port)
        if with_worker:
            settings.require_sender()
        return settings, app.ready_db()

    settings, db = app.start_service(start, wait=wait_for_settings)
    host = host or settings.web.host
    port = port or settings.web.port
    check_bind(settings, host, port)  # for --host: exit 2, as any flag that does not fit
    serve(
        settings,
        db,
        host,
        port,
        with_worker=with_worker,
        new_password=new_password,
        echo=lambda line: click.echo(line, err=False),
    )
