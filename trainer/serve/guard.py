"""What every request passes through before and after its route: a request id, the token, the body size limit,
the access-log line and metrics, and the last line of defence (a traceback goes to the log, never to a client)."""
from __future__ import annotations

import hmac
import logging
import time
import traceback
import uuid

from starlette.responses import JSONResponse

log = logging.getLogger("trainer.serve")

OPEN_PATHS = frozenset({"/healthz"})   # answered without a token: the liveness probe


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    """Supervisely's error body (success, message, detail) with TF Serving's (error)."""
    return JSONResponse({"success": False, "message": message, "detail": message, "error": message}, status,
                        headers=headers)


class Guard:
    def __init__(self, app, token: str | None, limits, metrics):
        self.app, self.metrics = app, metrics
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_bytes = int(limits.max_request_mb * 2 ** 20)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500, "sent": False}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            refused = self._refusal(scope)
            body = None if refused else await self._body(scope, receive)
            if body is None:
                refused = refused or error_response(413, f"request body over the server's --max-request-mb "
                                                         f"{self.max_bytes / 2 ** 20:g}")
                await refused(scope, receive, send_with_id)
            else:
                await self.app(scope, _replay(body, receive), send_with_id)
        except Exception:  # noqa: BLE001 — a bug in a route: logged with the request id, the client gets JSON
            log.error("request %s failed:\n%s", request_id, traceback.format_exc())
            if not status["sent"]:
                await error_response(500, f"internal error (request id {request_id}; details in the server log)")(
                    scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "other")
            images = scope["state"].get("images", 0)
            self.metrics.request(route, status["code"], elapsed, images)
            log.info("%s %s %d images=%d %.1fms id=%s", scope["method"], scope["path"], status["code"], images,
                     elapsed * 1000, request_id)

    def _refusal(self, scope) -> JSONResponse | None:
        headers = dict(scope["headers"])
        if self.expected and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                return error_response(401, "missing or wrong token: send 'Authorization: Bearer <token>'",
                                      {"WWW-Authenticate": "Bearer"})
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return error_response(413, f"request body of {int(length)} bytes over the server's --max-request-mb "
                                       f"{self.max_bytes / 2 ** 20:g}")
        return None

    async def _body(self, scope, receive) -> bytes | None:
        """The whole body, or None once it passes the limit (a chunked upload has no Content-Length to refuse)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return None
            if not message.get("more_body"):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive):
    """The body already read, handed to the app as if it arrived now; then the connection's own messages."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay
