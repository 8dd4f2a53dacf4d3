"""Sending e-mail through SMTP (Flask-Mailman), configured by one URL.

``SMTP_URL`` says everything about the server: ``smtp://host:25`` (plain),
``smtp://user:password@host:587?starttls=1`` (STARTTLS then login),
``smtps://user:password@host:465`` (TLS from the start); ``timeout=S``
bounds each exchange. Nothing here runs in a request: the notification
workers call :func:`send_messages` and record each outcome.

Outcomes are told apart the way a mail queue must: a server that refuses a
recipient for good (a 5xx answer to RCPT TO) bounced that address; a server
that cannot be reached, or answers 4xx, only delays the message (retried
later); a message the server refuses for good after accepting the recipient
(5xx to DATA) failed, whoever the recipient.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import smtplib
import ssl
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app
from flask_mailman import BadHeaderError, EmailMultiAlternatives, Mail
from flask_mailman.backends.smtp import EmailBackend
from flask_mailman.utils import DNS_NAME

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_TRUE = {"1", "true", "yes", "on"}


class SmtpUrlError(ValueError):
    """An SMTP_URL that cannot be used; the message names the problem, never the password."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @property
    def address(self) -> str:
        """Where mail goes, without the login: for messages and logs."""
        return f"{'smtps' if self.ssl else 'smtp'}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp[s]://[user[:password]@]host[:port][?starttls=1&timeout=10]`` → settings."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError("SMTP_URL doit commencer par smtp:// ou smtps://.")
    if not parts.hostname:
        raise SmtpUrlError("SMTP_URL doit nommer le serveur (smtp://hote:587).")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "ssl", "timeout"}
    if unknown:
        raise SmtpUrlError(f"SMTP_URL : paramètre inconnu {', '.join(sorted(unknown))}.")
    use_ssl = parts.scheme == "smtps" or query.get("ssl", "").lower() in _TRUE
    starttls = query.get("starttls", "").lower() in _TRUE
    if use_ssl and starttls:
        raise SmtpUrlError("SMTP_URL : choisissez STARTTLS (smtp://…?starttls=1) ou TLS (smtps://), pas les deux.")
    try:
        port = parts.port or (465 if use_ssl else 587 if starttls else 25)
        timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
    except ValueError as error:
        raise SmtpUrlError("SMTP_URL : port ou délai (timeout) invalide.") from error
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
        ssl=use_ssl,
        timeout=timeout,
    )


def init_mail(app: Flask, mail: Mail) -> None:
    """Flask-Mailman for the product; always real SMTP (its test default would keep mail in memory).

    The server itself is read from ``SMTP_URL`` each time mail is sent, so
    that the development server may start a local one after the app is made.
    """
    app.config["MAIL_BACKEND"] = "smtp"
    app.config.setdefault("MAIL_DEFAULT_SENDER", app.config.get("MAIL_FROM"))
    mail.init_app(app)
    url = app.config.get("SMTP_URL")
    if url:
        parse_smtp_url(url)  # a wrong URL stops the app at start, not the first e-mail


def smtp_settings(app: Flask | None = None) -> SmtpSettings | None:
    url = (app or current_app).config.get("SMTP_URL")
    return parse_smtp_url(url) if url else None


class Outcome(enum.Enum):
    SENT = "sent"
    DELAYED = "delayed"  # try again later: server down, busy, or a 4xx answer
    BOUNCED = "bounced"  # the server refused the recipient for good (5xx to RCPT TO)
    FAILED = "failed"  # the server refused this message for good (5xx after the recipient was accepted)


@dataclass(frozen=True)
class Email:
    """One message to one person: French text and HTML, and its own headers."""

    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    detail: str = ""


def send_messages(messages: Iterable[Email], settings: SmtpSettings | None = None,
                  ) -> Generator[Delivery, None, None]:
    """Sends each message over one connection, yielding each one's outcome as soon as it is known.

    The caller records each outcome before the next message is sent, so that
    a worker stopped half-way never sends again what it had sent. When the
    server cannot be reached, every message left is delayed.
    """
    settings = settings if settings is not None else smtp_settings()
    pending = list(messages)
    if not pending:
        return
    if settings is None:
        for _ in pending:
            yield Delivery(Outcome.DELAYED, "SMTP_URL n'est pas défini : aucun serveur d'envoi.")
        return
    backend = VerifyingBackend(
        host=settings.host, port=settings.port, username=settings.username or "", password=settings.password or "",
        use_tls=settings.starttls, use_ssl=settings.ssl, timeout=settings.timeout,
    )
    try:
        backend.open()
    except smtplib.SMTPAuthenticationError as error:
        detail = (f"Le serveur SMTP ({settings.address}) refuse l'identifiant ou le mot de passe de SMTP_URL : "
                  f"{error.smtp_code} {_text(error.smtp_error)}")
        log.warning("%s", detail)
        for _ in pending:
            yield Delivery(Outcome.DELAYED, detail)
        return
    except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
        detail = f"Serveur SMTP injoignable ({settings.address}) : {_describe(error)}"
        log.warning("%s", detail)
        for _ in pending:
            yield Delivery(Outcome.DELAYED, detail)
        return
    try:
        for index, message in enumerate(pending):
            delivery = _send_one(backend, message)
            yield delivery
            if delivery.outcome is Outcome.DELAYED and _connection_lost(backend):
                for _ in pending[index + 1:]:
                    yield Delivery(Outcome.DELAYED, delivery.detail)
                return
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            backend.close()


class VerifyingBackend(EmailBackend):
    """Flask-Mailman's SMTP backend, whose STARTTLS checks the server's certificate as ``smtps://`` does.

    (Its own STARTTLS uses smtplib's default context, which checks nothing:
    anyone on the way could read the login and the mail.)
    """

    connection: smtplib.SMTP | None

    def open(self) -> bool:
        if self.connection:
            return False
        options: dict = {"local_hostname": DNS_NAME.get_fqdn(), "timeout": self.timeout}
        if self.use_ssl:
            options["context"] = self.ssl_context
        self.connection = self.connection_class(self.host, self.port, **options)
        try:
            if not self.use_ssl and self.use_tls:
                self.connection.starttls(context=self.ssl_context)
            if self.username and self.password:
                self.connection.login(self.username, self.password)
        except BaseException:
            self.connection.close()
            self.connection = None
            raise
        return True


def _send_one(backend: EmailBackend, message: Email) -> Delivery:
    email = EmailMultiAlternatives(
        subject=message.subject, body=message.text, from_email=current_app.config["MAIL_FROM"], to=[message.to],
        headers=dict(message.headers), connection=backend,
    )
    email.attach_alternative(message.html, "text/html")
    try:
        backend.send_messages([email])
    except smtplib.SMTPRecipientsRefused as error:
        code, answer = next(iter(error.recipients.values()))
        detail = f"{code} {_text(answer)}"
        return Delivery(Outcome.BOUNCED if 500 <= code < 600 else Outcome.DELAYED, detail)
    except smtplib.SMTPResponseException as error:
        detail = f"{error.smtp_code} {_text(error.smtp_error)}"
        permanent = 500 <= error.smtp_code < 600 and not isinstance(error, smtplib.SMTPSenderRefused)
        return Delivery(Outcome.FAILED if permanent else Outcome.DELAYED, detail)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
        backend.connection = None  # whatever was left of it is unusable
        return Delivery(Outcome.DELAYED, f"Envoi interrompu : {_describe(error)}")
    except BadHeaderError as error:
        return Delivery(Outcome.FAILED, f"Message refusé avant l'envoi : {error}")
    return Delivery(Outcome.SENT)


def _connection_lost(backend: EmailBackend) -> bool:
    return backend.connection is None


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def _describe(error: BaseException) -> str:
    return str(error) or error.__class__.__name__


def address_of(sender: str) -> str:
    """The bare address of « Nom <adresse> »."""
    return parseaddr(sender)[1].lower()
