"""The `followup` command line: a thin shell over the service's functions."""

from service.cli import inbox, interviews, review, sending, setup  # noqa: F401  (they register commands)
from service.cli.app import App, cli, main

__all__ = ["App", "cli", "main"]
