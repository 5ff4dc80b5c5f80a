"""The `followup` command line's frame: settings and database per command, output, exit codes.

Exit codes: 0 done; 2 the request cannot be done as asked (bad input or settings, an unknown id,
or a record whose state does not allow it, such as approving twice); 1 anything else (a database
or server failure, a bug); 78 (EX_CONFIG) a service (`worker`, `serve`) that cannot start with
these settings, so that its service manager does not restart it in a loop. Errors are one line on stderr; `--debug` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import click

from service import __version__
from service.errors import FollowupError

if TYPE_CHECKING:  # the modules behind them load when a command needs them: `--help` is quick
    from service.approval import ReviewRule
    from service.config import Settings
    from service.db import Database

log = logging.getLogger("followup")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: How often a service waiting for its settings to be fixed tries them again.
SETTINGS_RETRY_SECONDS = 2.0

#: A record id as the database stores it: anything else is refused as bad input.
ID = click.IntRange(min=1, max=2**31 - 1)  # service.validation.MAX_ID (a test keeps them equal)


class FileName(click.ParamType):
    """A file name as the system can take it (no NUL, not empty); whether it exists is the
    command's business."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not isinstance(value, str) or not value or "\x00" in value:
            self.fail(f"{value!r} is not a file name", param, ctx)
        return value


FILE = FileName()


class App:
    """What a command needs, built when the command runs (never at import)."""

    def __init__(self, debug: bool = False):
        self.debug = debug

    @cached_property
    def settings(self) -> Settings:
        from service.config import load_settings

        settings = load_settings()
        logging.basicConfig(
            level="DEBUG" if self.debug else settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if not self.debug:
            logging.getLogger("alembic").setLevel(logging.WARNING)
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
        for warning in settings.warnings:
            click.echo(f"followup: warning: {warning}", err=True)
        return settings

    @cached_property
    def db(self) -> Database:
        from service.db import Database

        return Database(self.settings.database_url)

    def ready_db(self) -> Database:
        """The database, after checking it is migrated (never creating it)."""
        from service.db import require_migrated

        require_migrated(self.db, self.settings.describe_env_file())
        return self.db

    @cached_property
    def rule(self) -> ReviewRule:
        """Whether a follow-up needs approval, under the settings and plan in force."""
        from service.approval import ReviewRule
        from service.plan import load_plan

        return ReviewRule.of(self.settings.review, load_plan(self.settings.plan_path))

    @property
    def me(self) -> str:
        return self.settings.sender.email if self.settings.sender else "me"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def actor(self, role: str = "cli") -> str:
        from service.events import actor_name

        return actor_name(role)

    def start_service(self, start: Callable[[], T], *, wait: bool = False) -> T:
        """Start a long-running service (read and check its settings, open the database) with
        `start`. A settings error exits 78 (EX_CONFIG), which the systemd unit does not restart
        in a loop; with `wait` (for a container, whose restart policy cannot tell 78 apart), it
        is said once and tried again every few seconds, until the settings are fixed."""
        from service.errors import SetupError, Unreachable, UsageError

        said = None
        while True:
            try:
                return start()
            except UsageError as exc:
                if isinstance(exc, Unreachable):
                    raise  # not the settings: the service manager tries again later
                if not wait:
                    raise SetupError(f"{exc} (then start it again)") from None
                if str(exc) != said:
                    said = str(exc)
                    click.echo(
                        f"followup: error: {' '.join(said.split())} (waiting for the settings "
                        "to be fixed: this starts by itself then)",
                        err=True,
                    )
            self.close()
            for name in ("settings", "db", "rule"):
                self.__dict__.pop(name, None)
            time.sleep(SETTINGS_RETRY_SECONDS)

    def close(self) -> None:
        """Give back database connections when the command ends."""
        if "db" in self.__dict__:
            self.db.dispose()


pass_app = click.make_pass_decorator(App)


def emit(data: object) -> None:
    from service.formatting import dumps

    click.echo(dumps(data))


def emit_stream(items: Iterable[dict]) -> None:
    """A JSON array of many objects, written as they come."""
    from service.formatting import stream_json

    stream_json(items, sys.stdout.write)


def limit_option(fn: F) -> F:
    return click.option(
        "--limit", type=click.IntRange(min=1, max=10**9), help="At most this many (the first ones)."
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(__version__, prog_name="followup")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """followup: sends your interview follow-up emails on time, in good form, never twice."""
    global _current
    ctx.obj = _current = App(debug=debug)
    ctx.call_on_close(ctx.obj.close)


#: The App of the command running, for errors raised after its context closed.
_current: App | None = None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors become one line on stderr and exit 2 (usage) or 1 (failure)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="followup", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("followup: aborted", err=True)
        sys.exit(1)
    except click.exceptions.NoSuchOption as exc:
        _fail(
            exc,
            f"{exc.format_message()} (see `{exc.ctx.command_path} --help`)"
            if exc.ctx
            else exc.format_message(),
            2,
        )
    except click.exceptions.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(exc, f"{exc.format_message()}{where}", 2)
    except FollowupError as exc:
        if debug:
            raise
        _fail(exc, str(exc), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        found = None if debug else database_error(exc)
        if found is None:
            raise
        _fail(exc, *found)
    sys.exit(0)


def database_error(exc: Exception) -> tuple[str, int] | None:
    """A database driver's error as one line, with the database it concerns (never the SQL
    parameters, which hold the user's mail); None for anything else."""
    if not type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
        return None
    from sqlalchemy.engine import make_url

    from service.db import error_line

    reason = error_line(exc)
    where = "the database"
    if _current is not None and "settings" in _current.__dict__:
        url = make_url(_current.settings.database_url)
        if url.get_backend_name() != "sqlite":
            where = url.render_as_string()
        elif url.database:  # none for an in-memory database
            where = url.database
    unreachable = any(
        s in reason.lower()
        for s in ("connection", "unable to open", "could not translate", "timeout", "refused")
    )
    if unreachable:
        return f"cannot reach {where}: {reason} (check FOLLOWUP_DATABASE_URL)", 2
    if "readonly" in reason.lower() or "read-only" in reason.lower():
        return f"{where} cannot be written: {reason} (check the file's permissions)", 1
    return f"database error in {where}: {reason}", 1


def _fail(exc: Exception, message: str, code: int) -> None:
    # One line, whatever the message was made of (click lists choices on several lines).
    click.echo(f"followup: error: {' '.join(message.split())}", err=True)
    sys.exit(code)
