"""The steps every product's factory starts with."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import Flask


def load_config(app: Flask, config_object: object, test_config: dict | None) -> None:
    """Defaults first, then the test mapping; a missing secret is kept in instance/."""
    app.config.from_object(config_object)
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app, f"{app.name}_secret_key")


def instance_secret(app: Flask, name: str) -> str:
    """A random secret generated once per instance and kept in a 0600 file."""
    path = Path(app.instance_path) / f"{name}.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class RedactSecrets(logging.Filter):
    """Drops bearer tokens and API keys from log lines, whatever logs them."""

    MARKERS = ("Bearer ", "Authorization", "client_secret", "access_token", "refresh_token", "code_verifier")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS):
            record.msg = "[ligne de journal masquée : elle contenait un secret]"
            record.args = ()
        return True
