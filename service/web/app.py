"""The web app: FastAPI over the same service functions the CLI uses. Pages for a person (plain
forms, server-rendered), `/api/v1` for scripts; every request passes the checks of security.py."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from service.config import Settings
from service.config.watch import SettingsWatch
from service.db import Database
from service.errors import FollowupError, NotFound, StateConflict, UsageError
from service.validation import MAX_ID
from service.web import security
from service.web.security import CSRF_COOKIE, SESSION_COOKIE, Session, same_token

if TYPE_CHECKING:
    from service.approval import ReviewRule

log = logging.getLogger(__name__)
HERE = FilePath(__file__).resolve().parent
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: A record id as the database stores it (the CLI's `ID`): anything else is refused as bad input.
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class LoginRequired(Exception):
    """A page was asked for without a session: the browser goes to the login page."""


class FormRefused(Exception):
    """A POST without the right CSRF token."""


class Web:
    """What every request handler needs: settings, database, clock, sessions, page templates."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Callable[[], datetime] = utcnow,
        load: Callable[[], Settings] | None = None,
    ):
        #: The settings in force: `load` reads them again when .env or the plan file changes.
        self.watch = SettingsWatch(settings, load, service="`followup serve`")
        self.db = db
        self.clock = clock
        self.sessions = security.Sessions()
        self.attempts = security.Attempts()
        self._rule: ReviewRule | None = None
        self._use(settings)

    @property
    def settings(self) -> Settings:
        return self.watch.settings

    def _use(self, settings: Settings, rule: ReviewRule | None = None) -> None:
        """What is made from the settings once, not per request."""
        self.password = security.Password(self.db, settings.web.password)
        self.hosts = settings.web.hosts()
        self.pages = page_templates(settings.timezone)
        self._rule = rule

    def refresh_settings(self) -> None:
        """Before each request (and at once on SIGHUP): use .env and the plan file as they are
        now, if they changed and check out; if not, the last good settings stay (and a banner
        says what is wrong)."""
        fresh = self.watch.refresh(_checked)
        if fresh is not None:
            self._use(*fresh)

    def now(self) -> datetime:
        return self.clock()

    @property
    def rule(self) -> ReviewRule:
        """Whether a follow-up needs approval, under the settings and plan in force."""
        if self._rule is None:
            self._rule = _rule_of(self.settings)
        return self._rule

    @property
    def me(self) -> str:
        return self.settings.sender.email if self.settings.sender else "me"

    def actor(self, how: str = "web") -> str:
        from service.events import actor_name

        return actor_name(how)

    def secure(self, request: Request) -> bool:
        """Cookies are Secure behind https (as the browser reached us, or FOLLOWUP_WEB_URL)."""
        url = self.settings.web.url or ""
        return request.url.scheme == "https" or url.startswith("https://")

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE), self.now())

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page; a visitor without a session gets a CSRF cookie for the page's form."""
        session = self.session(request)
        new_cookie = None
        if session is not None:
            csrf = session.csrf
            flashes, session.flash = session.flash, []
        else:
            csrf = request.cookies.get(CSRF_COOKIE) or ""
            if len(csrf) < 32:
                csrf = new_cookie = secrets.token_urlsafe(32)
            flashes = []
        problem = self.watch.problem if session is not None else None
        page = self.pages.get_template(name).render(
            request_path=request.url.path,
            logged_in=session is not None,
            settings_problem=problem and mask(self.settings, problem),
            csrf=csrf,
            flashes=flashes,
            **context,
        )
        response = HTMLResponse(page, status_code=status)
        if new_cookie is not None:
            response.set_cookie(
                CSRF_COOKIE,
                new_cookie,
                httponly=True,
                samesite="strict",
                secure=self.secure(request),
                path="/",
            )
        return response

    def flash(self, request: Request, text: str, kind: str = "ok") -> None:
        session = self.session(request)
        if session is not None:
            session.flash.append((kind, text))

    def check_csrf(self, request: Request, given: str | None) -> None:
        session = self.session(request)
        expected = session.csrf if session else request.cookies.get(CSRF_COOKIE)
        if not same_token(given, expected):
            raise FormRefused()


def page_templates(zone: ZoneInfo) -> jinja2.Environment:
    """The page templates, showing times in this zone (a new set when the zone changes: the
    macros the pages import are compiled with the zone they saw first)."""
    from service.web import views

    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    pages.filters.update(views.FILTERS)
    pages.globals["zone"] = zone
    return pages


def _checked(settings: Settings) -> ReviewRule:
    """Settings the web app may serve with: a plan that reads (its review rule), and a login
    password whenever it listens beyond this machine, and one that guesses would not find."""
    if settings.web.password_problem:
        raise UsageError(settings.web.password_problem)
    if not settings.web.loopback and not settings.web.password:
        raise UsageError(
            f"FOLLOWUP_WEB_PASSWORD is not set while serving on {settings.web.host}: set it "
            "again in .env (anyone who can reach this address could send mail as you)"
        )
    return _rule_of(settings)


def _rule_of(settings: Settings) -> ReviewRule:
    from service.approval import ReviewRule
    from service.plan import load_plan

    return ReviewRule.of(settings.review, load_plan(settings.plan_path))


def mask(settings: Settings, text: str) -> str:
    """The text with every secret of the settings (and of their commands) replaced by ****."""
    from service.credentials import mask as mask_secrets

    found = [settings.web.password, settings.web.api_token]
    found += [getattr(settings.smtp, "password", None), getattr(settings.imap, "password", None)]
    return mask_secrets(text, *found)


def web_of(request: Request) -> Web:
    return request.app.state.web


async def logged_in(request: Request) -> Session:
    """Dependency of every page but login and the digest links; checks CSRF on a POST."""
    web = web_of(request)
    session = web.session(request)
    if session is None:
        raise LoginRequired()
    if request.method not in SAFE_METHODS:
        form = await request.form()
        given = form.get("csrf")
        web.check_csrf(request, given if isinstance(given, str) else None)
    return session


def create_app(
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime] = utcnow,
    load: Callable[[], Settings] | None = None,
) -> FastAPI:
    """The ASGI app for these settings and this database; with `load`, for the settings in
    force (read again when .env or the plan file changes)."""
    from service.web import api, digest, interview_pages, limits, pages, review_pages

    app = FastAPI(
        title="followup",
        version="1",
        description="Interview follow-ups: the JSON API (Authorization: Bearer FOLLOWUP_API_TOKEN).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    web = Web(settings, db, clock, load)
    app.state.web = web
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.public)
    app.include_router(pages.router)
    app.include_router(review_pages.router)
    app.include_router(interview_pages.router)
    app.include_router(digest.router)
    app.include_router(api.router)
    api.install_errors(app)
    limits.install(app, web)  # inside the checks below: the Host is checked first

    @app.middleware("http")
    async def checks(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        web.refresh_settings()  # a look at the files' stat; read again only when they changed
        host = request.headers.get("host", "")
        if security.host_name(host) not in web.hosts:
            response: Response = PlainTextResponse(
                "This server does not answer to that host name (see FOLLOWUP_WEB_ALLOWED_HOSTS).",
                status_code=400,
            )
        elif request.method not in SAFE_METHODS and not request.url.path.startswith("/api/"):
            origin = request.headers.get("origin") or request.headers.get("referer")
            if origin and not security.same_origin(origin, host):
                response = PlainTextResponse(
                    "Refused: this form was sent from another site.", status_code=403
                )
            else:
                response = await call_next(request)
        else:
            response = await call_next(request)
        response.headers.update(security.HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path if request.method in SAFE_METHODS else "/"
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(FormRefused)
    async def refused(request: Request, _exc: FormRefused) -> Response:
        return web.render(
            request,
            "message.html",
            status=403,
            title="Form refused",
            message="This form is out of date or was not sent from this site: go back, reload "
            "the page and try again.",
        )

    @app.exception_handler(FollowupError)
    async def failed(request: Request, exc: FollowupError) -> Response:
        if request.url.path.startswith("/api/"):
            return api.error_response(exc)
        status = (
            404 if isinstance(exc, NotFound) else 409 if isinstance(exc, StateConflict) else 422
        )
        if exc.exit_code == 1:
            status = 500
        return web.render(
            request, "message.html", status=status, title="Not done", message=str(exc)
        )

    return app
