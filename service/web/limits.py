"""What a request may cost before the app reads it: the API's token is checked before its body,
and every body is capped (FOLLOWUP_WEB_MAX_BODY), counted as it streams in, whether it came with
a Content-Length or chunked. A pure ASGI middleware: nothing is read that it has not counted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.web.security import token_problem

if TYPE_CHECKING:
    from service.web.app import Web

#: The API's paths behind the token (its OpenAPI document is public, as before).
API_PREFIX = "/api/v1/"
OPENAPI = "/api/v1/openapi.json"


class BodyTooLarge(HTTPException):
    """A request body over FOLLOWUP_WEB_MAX_BODY: raised from `receive` as it is read."""

    def __init__(self, cap: int):
        super().__init__(413, too_large(cap))


def too_large(cap: int) -> str:
    return (
        f"the request body is over {cap} bytes, the most this server takes (FOLLOWUP_WEB_MAX_BODY)"
    )


def refusal(path: str, status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    """One line: JSON errors for the API, plain text for the pages."""
    if path.startswith("/api/"):
        body = {"errors": [{"field": None, "reason": reason}]}
        return JSONResponse(body, status_code=status, headers=headers)
    return PlainTextResponse(reason[:1].upper() + reason[1:] + ".\n", status, headers=headers)


class Guard:
    """The token of an API call, then the size of the body, before the app reads a byte."""

    def __init__(self, app: ASGIApp, web: Web):
        self.app = app
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.lower(): v for k, v in scope["headers"]}
        settings = self.web.settings.web
        if path.startswith(API_PREFIX) and path != OPENAPI:
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            problem = token_problem(settings.api_token, authorization)
            if problem is not None:
                response = refusal(path, 401, problem, {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        cap = settings.max_body
        declared = headers.get(b"content-length", b"").strip()
        if declared and (not declared.isdigit() or len(declared) > 12 or int(declared) > cap):
            await refusal(path, 413, too_large(cap))(scope, receive, send)
            return
        taken = 0

        async def counted() -> Message:
            nonlocal taken
            message = await receive()
            if message["type"] == "http.request":
                taken += len(message.get("body", b""))
                if taken > cap:
                    raise BodyTooLarge(cap)
            return message

        await self.app(scope, counted, send)


def install(app: FastAPI, web: Web) -> None:
    """The guard, and the answer to a body found too large while it was read."""
    app.add_middleware(Guard, web=web)

    @app.exception_handler(BodyTooLarge)
    async def too_big(request: Request, exc: BodyTooLarge) -> Response:
        return refusal(request.url.path, 413, exc.detail)
