"""``Cache-Control: no-store`` on every console answer: pages name customers and carry form
tokens, so no browser or proxy may keep them (the back button on a shared till included).
Pages, redirects and error pages alike; the static files may be cached."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_PREFIX = "/console"
STATIC_PREFIX = "/console/static/"
NO_STORE = (b"cache-control", b"no-store")


def _is_console(path: str) -> bool:
    in_console = path == CONSOLE_PREFIX or path.startswith(f"{CONSOLE_PREFIX}/")
    return in_console and not path.startswith(STATIC_PREFIX)


class NoStoreMiddleware:
    """Outermost, so it also marks answers given before the app ran (a refused body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_console(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"cache-control"
                ]
                message = {**message, "headers": [*headers, NO_STORE]}
            await send(message)

        await self.app(scope, receive, send_no_store)
