"""Keeping the user's data: backups while the worker runs, restores, and a portable export that
moves everything between SQLite and Postgres (`portable`, `backup`)."""
