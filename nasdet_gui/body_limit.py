"""An ASGI middleware that reads a JSON request body before the app parses it, and answers a
body nested too deep to parse (core.app.arguments.check_body_nesting) with the project's own
one-line message, status 400, instead of the framework's "error parsing the body".

Any other request, and any body within the limit, goes on to the app unchanged (the body
replayed as it came). Installed by `launch_kwargs()`, which app.py passes to `demo.launch`.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.app.arguments import check_body_nesting
from core.errors import SpecError

METHODS_WITH_BODY = ("POST", "PUT", "PATCH")


class JsonNestingLimit:
    """Refuse JSON bodies nested deeper than core.app.arguments.BODY_NESTING_LIMIT."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _json_with_body(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        try:
            check_body_nesting(body)
        except SpecError as exc:
            await JSONResponse({"detail": str(exc)}, status_code=400)(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _json_with_body(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in METHODS_WITH_BODY:
        return False
    headers = dict(scope.get("headers") or [])
    return b"json" in headers.get(b"content-type", b"").lower()


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    """The request's messages up to the end of its body, and the body."""
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def launch_kwargs() -> dict[str, Any]:
    """What `demo.launch` needs for this middleware."""
    return {"app_kwargs": {"middleware": [Middleware(JsonNestingLimit)]}}
