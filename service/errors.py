"""The error types a user can act on; the CLI maps them to exit codes."""


class FollowupError(Exception):
    """Something went wrong that is not the user's input (exit 1)."""

    exit_code = 1


class UsageError(FollowupError):
    """Bad input or configuration: the message says what is wrong and how to fix it (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration variable has a value it does not accept."""


class StateConflict(UsageError):
    """A guarded status change found the row in another state than expected: the request
    cannot be done as asked (exit 2), e.g. approving twice or closing a closed interview."""


class NotFound(UsageError):
    """The named record does not exist."""


class TemplateError(FollowupError):
    """A template does not parse or render; the message names the template and line."""


class RenderBudgetExceeded(TemplateError):
    """A render used more CPU time than FOLLOWUP_RENDER_TIMEOUT allows: a runaway template, or a
    machine starved of CPU; the worker tries again later before it blames the template."""

    def __init__(self, message: str, template: str = ""):
        super().__init__(message)
        #: The name of the template over budget (`thank_you`), set by Templates.render.
        self.template = template


class SetupError(FollowupError):
    """A service (the worker, the web app) cannot start with these settings, and starting it
    again will not help: exit 78 (EX_CONFIG), which systemd and Compose do not restart in a loop."""

    exit_code = 78


class Unreachable(UsageError):
    """The database cannot be reached now; it may be later (a service is restarted for it, not
    stopped as for a configuration error)."""
