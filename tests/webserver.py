"""A real HTTP server on 127.0.0.1 for the compose tests: fixtures, redirects, errors, slowness.

Started and stopped by the `web` fixture; every request is recorded (path and headers), so
tests can check the User-Agent and conditional GETs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "compose"

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Web:
    base: str
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base + path

    def file(self, path: str, name: str, content_type: str, **headers: str) -> str:
        body = (FIXTURES / name).read_bytes()
        self.routes[path] = lambda h: send(h, 200, body, {"Content-Type": content_type, **headers})
        return self.url(path)


def send(
    h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None, length: bool = True
) -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    if length:
        h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def serve() -> Iterator[Web]:
    web = Web(base="", routes={})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; a body without length ends at close

        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            web.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = web.routes.get(self.path)
            if route is None:
                send(self, 404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
            else:
                route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that hung up on a body it refused (too large, too slow) is what the tests want

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    web.base = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll: shutdown() waits for the loop's next look (half a second by default, in every test).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield web
    finally:
        web.stop.set()  # slow routes wake up and end
        server.shutdown()
        server.server_close()
        thread.join(10)
