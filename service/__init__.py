"""followup: sends a job seeker's interview follow-up emails on time, in good form, never twice."""

__version__ = "0.1.0"
