"""Interviews in from calendar invitations and CSV files; the follow-up schedule out as a calendar."""
