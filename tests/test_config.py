"""Configuration read from the environment says what the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {
    "MegConfig": ["LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS", "PASSWORD_CHANGE_LIMIT", "PAYMENT_LIMIT",
                  "OAUTH_TOKEN_LIMIT", "EINVOICE_IMPORT_LIMIT"],
    "LibeoConfig": ["LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS", "PASSWORD_CHANGE_LIMIT", "PAYMENT_LIMIT",
                    "SIGNUP_LIMIT", "API_KEY_FAILURE_LIMIT", "API_RATE_LIMIT", "EINVOICE_IMPORT_LIMIT"],
}


def _limits(env: dict[str, str]) -> dict[str, dict[str, str]]:
    script = (
        "import json, config;"
        f"print(json.dumps({{c: {{n: getattr(getattr(config, c), n) for n in ns}} for c, ns in {LIMITS!r}.items()}}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_LIMIT")}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**clean, **env},
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("side, name", [(side, name) for side, names in LIMITS.items() for name in names])
def test_an_empty_rate_limit_variable_turns_that_limit_off(side, name):
    assert _limits({})[side][name]  # a limit by default
    assert _limits({name: ""})[side][name] == ""
    assert _limits({name: "3 per hour"})[side][name] == "3 per hour"



@pytest.mark.parametrize(("name", "value", "word"), [
    ("HTTP_TIMEOUT", "cinq", "un nombre"),
    ("TRUSTED_PROXIES", "1.5", "un nombre entier"),
    ("SYNC_CLAIM_SECONDS", "2 min", "un nombre entier"),
])
def test_a_number_that_is_not_one_stops_the_start_with_a_french_message(name, value, word):
    result = subprocess.run([sys.executable, "-c", "import config"], cwd=ROOT, env={**os.environ, name: value},
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{name}={value!r} : la valeur doit être {word}."
    assert "Traceback" not in result.stderr
