"""SMTP_URL and the SMTP client (core/mail.py) against real SMTP servers (aiosmtpd): plain, STARTTLS with a
login, TLS from the start, a certificate nobody trusts, a wrong password, a refused recipient, a dead server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from flask_mailman import Mail

from core.mail import Email, Outcome, SmtpSettings, SmtpUrlError, init_mail, parse_smtp_url, send_messages
from devtools.smtp_server import LocalSmtp

# --- SMTP_URL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1:8025", SmtpSettings("127.0.0.1", 8025)),
    ("smtp://mail.example.fr", SmtpSettings("mail.example.fr", 25)),
    ("smtp://user:p%40ss%3Aw0rd@mail.example.fr:587?starttls=1",
     SmtpSettings("mail.example.fr", 587, "user", "p@ss:w0rd", starttls=True)),
    ("smtp://u:p@mail.example.fr?starttls=true&timeout=3", SmtpSettings("mail.example.fr", 587, "u", "p", True,
                                                                         timeout=3.0)),
    ("smtps://apikey:s3cret@smtp.example.fr", SmtpSettings("smtp.example.fr", 465, "apikey", "s3cret", ssl=True)),
    ("smtp://smtp.example.fr:2465?ssl=1", SmtpSettings("smtp.example.fr", 2465, ssl=True)),
])
def test_smtp_url_says_host_port_encryption_and_login(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("http://mail.example.fr", "SMTP_URL doit commencer par smtp:// ou smtps://."),
    ("smtp://", "SMTP_URL doit nommer le serveur"),
    ("smtps://h?starttls=1", "choisissez STARTTLS"),
    ("smtp://h?tls=1", "paramètre inconnu tls"),
    ("smtp://h:notaport", "port ou délai (timeout) invalide"),
])
def test_a_wrong_smtp_url_is_refused_in_french(url, message):
    with pytest.raises(SmtpUrlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_smtp_url(url)


def test_the_password_is_never_shown():
    settings = parse_smtp_url("smtp://user:tr3s-secret@mail.example.fr:587?starttls=1")
    assert "tr3s-secret" not in repr(settings) and "tr3s-secret" not in settings.address
    with pytest.raises(SmtpUrlError) as refused:
        parse_smtp_url("smtp://user:tr3s-secret@mail.example.fr:587?starttls=1&ssl=1")
    assert "tr3s-secret" not in str(refused.value)


# --- sending ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (key file, certificate file)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "key.pem", folder / "cert.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def server_tls(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[1]), str(certificate[0]))
    return context


def send(url: str, *emails: Email) -> list:
    app = Flask("mail-test")
    app.config.update(SMTP_URL=url, MAIL_FROM="Libeo <notifications@libeo.localhost>", TESTING=True)
    init_mail(app, Mail())
    with app.app_context():
        return list(send_messages(list(emails)))


def email(to: str = "claire@boulangerie-martin.fr") -> Email:
    return Email(to, "Objet : essai", "Texte", "<p>HTML</p>")


def test_starttls_with_a_login(certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1]))  # the client trusts this server's certificate
    server = LocalSmtp(login=("libeo", "mot de passe"), tls=server_tls(certificate)).start()
    try:
        url = server.url.replace("mot de passe", "mot%20de%20passe")
        assert [d.outcome for d in send(url, email())] == [Outcome.SENT]
        assert [m["X-Delivered-To"] for m in server.messages] == ["claire@boulangerie-martin.fr"]
        wrong = send(url.replace("mot%20de%20passe", "autre"), email())
        assert [d.outcome for d in wrong] == [Outcome.DELAYED]
        assert "refuse l'identifiant ou le mot de passe" in wrong[0].detail and "autre" not in wrong[0].detail
    finally:
        server.stop()


def test_starttls_checks_the_server_certificate(certificate):
    server = LocalSmtp(tls=server_tls(certificate)).start()
    try:
        [delivery] = send(server.url, email())
        assert delivery.outcome is Outcome.DELAYED and "CERTIFICATE_VERIFY_FAILED" in delivery.detail
        assert server.messages == []
    finally:
        server.stop()


def test_tls_from_the_start_with_a_login(certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1]))
    server = LocalSmtp(login=("libeo", "s3cret"), tls=server_tls(certificate), implicit_tls=True).start()
    try:
        assert server.url.startswith("smtps://")
        assert [d.outcome for d in send(server.url, email())] == [Outcome.SENT]
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_a_refused_recipient_bounces_and_the_others_are_sent():
    server = LocalSmtp().start()
    server.refuse("inconnu@boulangerie-martin.fr")
    try:
        deliveries = send(server.url, email("inconnu@boulangerie-martin.fr"), email())
        assert [d.outcome for d in deliveries] == [Outcome.BOUNCED, Outcome.SENT]
        assert deliveries[0].detail.startswith("550 ")
        assert [m["X-Delivered-To"] for m in server.messages] == ["claire@boulangerie-martin.fr"]
    finally:
        server.stop()


def test_a_dead_server_delays_every_message():
    server = LocalSmtp().start()
    url = server.url
    server.stop()
    deliveries = send(url, email(), email("autre@boulangerie-martin.fr"))
    assert [d.outcome for d in deliveries] == [Outcome.DELAYED, Outcome.DELAYED]
    assert "injoignable" in deliveries[0].detail


def test_without_smtp_url_nothing_is_sent_and_nothing_is_lost():
    assert [d.outcome for d in send("", email())] == [Outcome.DELAYED]
