"""Outgoing HTTP between the two products.

Every call goes through ``requests`` and the other product's full WSGI stack.
When both products run in one process, a :class:`WSGITransport` mounted on the
session hands the request to the other app's WSGI callable instead of a socket
(same routing, middleware, cookies and headers; no self-deadlock in a
single-worker server). Deployed apart, the same session uses the network.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import WSGIRequestHandler

from core.observability.context import REQUEST_ID_HEADER, current_request_id


class WSGITransport(BaseAdapter):
    """A requests adapter that serves requests with a WSGI application."""

    def __init__(self, wsgi_app: Callable, script_name: str = "") -> None:
        super().__init__()
        self.wsgi_app = wsgi_app
        self.script_name = script_name.rstrip("/")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        path = unquote(url.path)
        if self.script_name and path.startswith(self.script_name):
            path = path[len(self.script_name) :]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": path or "/",
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value
        environ.setdefault("HTTP_HOST", url.netloc)

        captured: dict = {}

        def start_response(status: str, headers: list, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        chunks: Iterable[bytes] = self.wsgi_app(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

        response = requests.Response()
        response.status_code = int(captured["status"].split(" ", 1)[0])
        response.reason = captured["status"].split(" ", 1)[1] if " " in captured["status"] else ""
        response.headers = CaseInsensitiveDict(captured["headers"])
        response._content = content
        response.raw = io.BytesIO(content)
        response.url = request.url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.connection = self  # type: ignore[assignment]  # requests types it HTTPAdapter; any adapter works
        return response

    def close(self) -> None:
        pass


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler, naming no version in ``Server``.

    Werkzeug's says « Werkzeug/3.1.3 Python/3.11.2 », and sends it before the
    application's headers, so only the handler can change it. (gunicorn's
    own is « gunicorn », without its version.)
    """

    def version_string(self) -> str:
        return "Werkzeug"


class SendsRequestId(requests.Session):
    """A requests session that sends the current request id (``X-Request-ID``) with every call.

    The other product keeps it for its own log lines: one « Payer » reads as
    one id in both products' logs.
    """

    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        request_id = current_request_id()
        if request_id and REQUEST_ID_HEADER not in prepared.headers:
            prepared.headers[REQUEST_ID_HEADER] = request_id
        return prepared


class PeerSession(SendsRequestId):
    """The session of every call from one product to the other."""


def http_session(app, *, peers_key: str = "http_peers") -> requests.Session:
    """A session for calls from ``app`` to the other product.

    ``app.extensions[peers_key]`` maps URL prefixes to (wsgi_app, script_name)
    pairs when the other product runs in this process.
    """
    session = PeerSession()
    session.trust_env = False
    for prefix, (wsgi_app, script_name) in app.extensions.get(peers_key, {}).items():
        session.mount(prefix, WSGITransport(wsgi_app, script_name))
    return session


def kept_http_session(app, *, peers_key: str = "http_peers") -> requests.Session:
    """This thread's session for calls from ``app`` to the other product, kept from one call to the next.

    Deployed apart, its pool keeps the connection to the other product open
    between calls: a « Payer » opens no new TCP (and TLS) connection. One per
    thread (a requests session is not safe to share between threads), made
    anew when the in-process peers change. It keeps no cookie: the calls are
    authenticated by key, and every company's calls go through it.
    """
    peers = tuple(app.extensions.get(peers_key, {}).items())
    kept = app.extensions.get(f"{peers_key}_kept")
    if kept is None:
        kept = app.extensions.setdefault(f"{peers_key}_kept", threading.local())
    if getattr(kept, "peers", None) != peers:
        if getattr(kept, "session", None) is not None:
            kept.session.close()
        kept.session = http_session(app, peers_key=peers_key)
        kept.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        kept.peers = peers
    return kept.session
