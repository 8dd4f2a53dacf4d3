"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives, for development and tests.

``flask serve`` starts one unless ``SMTP_URL`` is set, points both products
at it and gives each its « E-mails envoyés » page, which reads the folder
(a Maildir) this server writes. The tests start their own, and may make it
refuse some recipients for good (« 550 », as a real server refuses an
unknown mailbox), ask for a login, or speak STARTTLS.

``python -m devtools.smtp_server --port 8025 --maildir instance/mailbox``
runs it alone.
"""

from __future__ import annotations

import argparse
import logging
import mailbox
import socket
import ssl
import threading
import time
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

# aiosmtpd logs each SMTP command at INFO: a development server keeps quiet unless something fails.
logging.getLogger("mail.log").setLevel(logging.WARNING)

REFUSAL = "550 5.1.1 Adresse inconnue : boîte aux lettres inexistante"


class KeepingHandler:
    """Keeps each message in a Maildir (and in memory, for tests), with the envelope's recipients."""

    def __init__(self, folder: Path | None, refuse: set[str] | None = None) -> None:
        self.maildir = mailbox.Maildir(folder, create=True) if folder is not None else None
        self.refuse = refuse if refuse is not None else set()
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address: str, rcpt_options):  # noqa: N802
        if address.lower() in self.refuse:
            return REFUSAL
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope):  # noqa: N802
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        delivered = b"".join(f"X-Delivered-To: {to}\r\n".encode() for to in envelope.rcpt_tos)
        message = message_from_bytes(delivered + raw, policy=default_policy)
        with self.lock:
            self.messages.append(message)
            if self.maildir is not None:
                self.maildir.add(delivered + raw)
        return "250 Message accepté"


class LocalSmtp:
    """An aiosmtpd server on 127.0.0.1 in a thread of this process; ``url`` is its SMTP_URL."""

    def __init__(self, port: int = 0, maildir: Path | None = None, *, login: tuple[str, str] | None = None,
                 tls: ssl.SSLContext | None = None, implicit_tls: bool = False) -> None:
        self.port = port or _free_port()
        self.handler = KeepingHandler(maildir)
        self.login = login
        self.tls = tls
        # TLS from the first byte (smtps://) rather than after STARTTLS.
        self.implicit_tls = implicit_tls
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        credentials = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        if self.tls is not None and self.implicit_tls:
            return f"smtps://{credentials}127.0.0.1:{self.port}"
        return f"smtp://{credentials}127.0.0.1:{self.port}" + ("?starttls=1" if self.tls else "")

    @property
    def messages(self) -> list[Message]:
        with self.handler.lock:
            return list(self.handler.messages)

    def refuse(self, *addresses: str) -> None:
        """These recipients are refused for good (5xx to RCPT TO) from now on."""
        self.handler.refuse.update(address.lower() for address in addresses)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()

    def start(self) -> LocalSmtp:
        options: dict = {}
        if self.login is not None:
            # A login only over STARTTLS, when it is offered (a TLS connection is encrypted already).
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.tls is not None and not self.implicit_tls)
        if self.tls is not None and self.implicit_tls:
            options.update(ssl_context=self.tls)
        elif self.tls is not None:
            options.update(tls_context=self.tls, require_starttls=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        expected = self.login or ("", "")
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == expected[0]
              and auth_data.password.decode() == expected[1])
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235, or 535 to a wrong password


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serveur SMTP local qui garde chaque message reçu")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", type=Path, default=Path("instance") / "mailbox")
    args = parser.parse_args(argv)
    server = LocalSmtp(args.port, args.maildir).start()
    print(f"Serveur SMTP local sur {server.url} ; messages gardés dans {args.maildir} (Ctrl+C pour arrêter)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
