"""The `followup` command line: a thin shell over the service's functions."""

from service.cli import (  # noqa: F401  (they register commands)
    calendar,
    data,
    deploy,
    inbox,
    interviews,
    review,
    sending,
    setup,
    web,
)
from service.cli.app import App, cli, main

__all__ = ["App", "cli", "main"]
