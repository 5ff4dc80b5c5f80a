"""Lets `python -m service` run the CLI."""

from service.cli import main

main()
