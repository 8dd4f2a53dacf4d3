"""Slow clients never starve Libeo served as the README's production section says.

The reproduction: twelve « slowloris » connections (a request started, then
one header line a second, never finished) against ``gunicorn -w 4`` (sync
workers, nothing in front) made every other request time out.

This test reads the production commands from README.md and serves Libeo
with them: the gunicorn command (its bind address changed to a free
loopback port), and, when the README puts a reverse proxy in front, nginx
with the repository's sample configuration (only its addresses and
certificate changed). Then slow clients, many more than twelve, hold
connections to the front while a person's requests must keep answering.
Everything runs on 127.0.0.1, bounded in clients and seconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REQUIRE_SERVICES, free_port

from .slow_clients import SlowClients

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_NGINX = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
# The reproduction's twelve, ten times over, and as many that send nothing at all.
TRICKLING, IDLE = 120, 120
SECONDS = 13.0


def production_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Production")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end != -1 else None]


def documented_gunicorn_commands() -> list[str]:
    """The gunicorn command lines of the README's production section (in its shell blocks), comments cut."""
    blocks = re.findall(r"```sh\n(.*?)```", production_section(), re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line.split("#")[0].strip() for line in lines if line.startswith("gunicorn ")]


def documented_gunicorn_command() -> list[str]:
    """Libeo's gunicorn command line in the README's production section."""
    [command] = [c for c in documented_gunicorn_commands() if "create_libeo_app" in c]
    return shlex.split(command)


def with_bind(command: list[str], address: str) -> list[str]:
    """The command with its bind address replaced (or given)."""
    out, skip = [], False
    for n, word in enumerate(command):
        if skip:
            skip = False
            continue
        if word in ("-b", "--bind"):
            skip = True
            continue
        if word.startswith("--bind="):
            continue
        out.append(word)
        if n == 0:
            out += ["-b", address]
    return out


def documented_proxy() -> Path | None:
    return SAMPLE_NGINX if "deploy/nginx.conf" in production_section() else None


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, private


def nginx_site(sample: str, *, upstream: int, http: int, https: int, cert: Path, key: Path) -> str:
    """The sample configuration with this machine's addresses and certificate, nothing else changed."""
    replacements = [
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};"),
        (r"listen 80;", f"listen 127.0.0.1:{http};"),
        (r"listen \[::\]:80;\n", ""),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        (r"listen \[::\]:443 ssl http2;\n", ""),
        (r"ssl_certificate /\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};"),
    ]
    for pattern, replacement in replacements:
        sample, count = re.subn(pattern, replacement, sample)
        assert count == 1, f"deploy/nginx.conf: expected one {pattern!r}"
    return sample


def nginx_main(folder: Path, site: Path) -> str:
    """What /etc/nginx/nginx.conf gives the sample on a server, in a folder of the test's own."""
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                        "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers write their temporary files in the test's folder
    return (f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            f"events {{ worker_connections 4096; }}\n"
            f"http {{\n  access_log {folder / 'access.log'};\n  {temp}\n  include {site};\n}}\n")


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, **kwargs) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[:3]} stopped:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            requests.get(url, timeout=2, **kwargs)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 40 s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def served_as_documented(tmp_path_factory):
    """Libeo behind what the README documents: (front URL, its port, TLS?, verify, log files)."""
    tmp_path = tmp_path_factory.mktemp("served")
    proxy = documented_proxy()
    if proxy is not None and NGINX is None:
        if REQUIRE_SERVICES:
            pytest.fail("nginx is not installed (apt-get install nginx-light)")
        pytest.skip("needs nginx (apt-get install nginx-light): the README puts it in front of gunicorn")
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    front = f"https://127.0.0.1:{https_port}" if proxy else f"http://127.0.0.1:{app_port}"
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LIBEO_DATABASE_URL": f"sqlite:///{tmp_path / 'libeo.sqlite3'}", "LIBEO_SECRET_KEY": "slow-clients-secret",
        "PUBLIC_URL": front, "MEG_URL": "http://127.0.0.1:9", "RATELIMIT_ENABLED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        **({"TRUSTED_PROXIES": "1"} if proxy else {}),
    }
    upgrade = subprocess.run([sys.executable, "-m", "flask", "--app", "app:create_libeo_app()", "libeo", "db",
                              "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    command = with_bind(documented_gunicorn_command(), f"127.0.0.1:{app_port}")
    assert command[0] == "gunicorn"
    gunicorn_log = tmp_path / "gunicorn.log"
    processes: list[subprocess.Popen] = []
    try:
        with open(gunicorn_log, "ab") as log:
            processes.append(subprocess.Popen([sys.executable, "-m", *command], cwd=ROOT, env=env, stdout=log,
                                              stderr=subprocess.STDOUT))
        wait_until_answering(f"http://127.0.0.1:{app_port}/connexion", processes[0], gunicorn_log)
        verify: str | bool = True
        logs = [gunicorn_log]
        if proxy is not None:
            folder = tmp_path / "nginx"
            folder.mkdir()
            cert, key = self_signed_certificate(folder)
            site = folder / "site.conf"
            site.write_text(nginx_site(proxy.read_text(), upstream=app_port, http=http_port, https=https_port,
                                       cert=cert, key=key))
            main = folder / "nginx.conf"
            main.write_text(nginx_main(folder, site))
            checked = subprocess.run([NGINX, "-t", "-c", str(main), "-p", str(folder)], capture_output=True,
                                     text=True, timeout=30)
            assert checked.returncode == 0, checked.stderr
            nginx_log = folder / "error.log"
            processes.append(subprocess.Popen([NGINX, "-c", str(main), "-p", str(folder)], cwd=folder,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            verify = str(cert)
            wait_until_answering(f"{front}/connexion", processes[1], nginx_log, verify=verify)
            logs.append(nginx_log)
        yield front, (https_port if proxy else app_port), proxy is not None, verify, logs
    finally:
        for process in reversed(processes):
            stop(process)


def ordinary_request(front: str, verify) -> tuple[int | None, float]:
    """A person opening Libeo's sign-in page: (status or None when it did not answer in 3 s, seconds)."""
    started = time.monotonic()
    try:
        status = requests.get(f"{front}/connexion", timeout=3, verify=verify,
                              headers={"Connection": "close"}).status_code
    except requests.RequestException:
        status = None
    return status, time.monotonic() - started


def test_slow_clients_do_not_starve_libeo_served_as_documented(served_as_documented):
    front, port, tls, verify, logs = served_as_documented
    assert ordinary_request(front, verify)[0] == 200
    answers = []
    with SlowClients(port, trickling=TRICKLING, idle=IDLE, seconds=SECONDS, tls=tls) as slow:
        print(f"{TRICKLING + IDLE} slow clients connected in {slow.open_seconds:.1f} s")
        began = time.monotonic()
        while time.monotonic() - began < SECONDS - 1:
            answers.append(ordinary_request(front, verify))
            time.sleep(0.3)
        closed_by_the_front = slow.closed()
    failed = [a for a in answers if a[0] != 200]
    slowest = max(seconds for _, seconds in answers)
    assert len(answers) >= 20 and not failed, (
        f"{len(failed)} of {len(answers)} requests failed or timed out while {TRICKLING} slow and {IDLE} idle "
        f"clients held connections; slowest {slowest:.1f} s")
    assert slowest < 2.0, f"slowest ordinary request: {slowest:.2f} s"
    # The front does not keep them forever: nginx gives headers 10 s (client_header_timeout).
    assert closed_by_the_front >= 0.9 * TRICKLING, f"{closed_by_the_front} of {TRICKLING + IDLE} slow clients closed"


def test_the_proxy_tells_the_app_the_scheme_and_refuses_oversized_bodies_itself(served_as_documented):
    front, _, tls, verify, logs = served_as_documented
    if not tls:
        pytest.fail("the README's production section puts no reverse proxy in front of gunicorn")
    response = requests.get(f"{front}/connexion", timeout=5, verify=verify)
    # X-Forwarded-Proto reached the app (TRUSTED_PROXIES=1): it knows it is served over HTTPS.
    assert "Strict-Transport-Security" in response.headers
    # A body over the limit is refused by nginx before gunicorn sees a byte of it.
    gunicorn_log = logs[0].read_text(errors="replace")
    too_large = requests.post(f"{front}/connexion", data=b"x" * (12 * 1024 * 1024), verify=verify, timeout=10,
                              headers={"Content-Type": "application/octet-stream"})
    assert too_large.status_code == 413
    assert logs[0].read_text(errors="replace").count("POST /connexion") == gunicorn_log.count("POST /connexion")


def test_the_readme_serves_each_product_with_the_repository_settings():
    section = production_section()
    commands = documented_gunicorn_commands()
    assert len(commands) == 2 and all("-c deploy/gunicorn.conf.py" in c for c in commands), commands
    assert "deploy/nginx.conf" in section and "TRUSTED_PROXIES=1" in section
