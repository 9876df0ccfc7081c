"""GA4 credentials: a service-account key, an OAuth user (authorized_user) file, or application default credentials.

Only the read-only Analytics scope is requested here: auditing never writes to a property. `audit fix --apply`
builds its own credentials with the analytics.edit scope (auditor/fix/ga4_writer.py), separately.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.oauth2.credentials
from google.oauth2 import service_account

from auditor.errors import ConfigError

GA4_SCOPES = ("https://www.googleapis.com/auth/analytics.readonly",)

_ADC_HELP = ("pass a service-account key or OAuth user file, or run `gcloud auth application-default login "
             "--scopes=https://www.googleapis.com/auth/analytics.readonly,https://www.googleapis.com/auth/cloud-platform`")


def load_ga4_credentials(key_file: str | None) -> tuple[google.auth.credentials.Credentials, str]:
    """Credentials scoped to analytics.readonly, and a one-line description of who they are.

    `key_file` is a service-account key JSON or an authorized-user JSON; None means application default
    credentials. A service-account key's own ``token_uri`` is kept, so tokens come from where the key says.
    Raises ConfigError naming the file and what is wrong with it.
    """
    if key_file is None:
        return _default()
    path = Path(key_file).expanduser()
    info = _read_json(path)
    kind = info.get("type")
    try:
        if kind == "service_account":
            creds: google.auth.credentials.Credentials = service_account.Credentials.from_service_account_info(
                info, scopes=list(GA4_SCOPES))
            return creds, f"service account {creds.service_account_email} (key {path})"
        if kind == "authorized_user":
            creds = google.oauth2.credentials.Credentials.from_authorized_user_info(info, scopes=list(GA4_SCOPES))
            who = info.get("account") or "OAuth user"
            return creds, f"{who} (OAuth user credentials {path})"
        if kind in ("external_account", "impersonated_service_account", "external_account_authorized_user"):
            creds, _ = google.auth.load_credentials_from_file(str(path), scopes=list(GA4_SCOPES))
            return creds, f"{kind.replace('_', ' ')} credentials ({path})"
    except (ValueError, KeyError, google.auth.exceptions.GoogleAuthError) as e:
        raise ConfigError(f"{path}: not a usable {kind} credentials file: {_short(e)}") from None
    if kind is None:
        raise ConfigError(f"{path}: no \"type\" field; expected a service-account key or an authorized-user JSON")
    raise ConfigError(f"{path}: unsupported credentials type {kind!r}; "
                      "expected \"service_account\" or \"authorized_user\"")


def describe(credentials: google.auth.credentials.Credentials) -> str:
    """Who these credentials act as, for error messages ("service account x@y.iam.gserviceaccount.com")."""
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and "@" in email:
        return f"service account {email}"
    account = getattr(credentials, "account", None)
    if isinstance(account, str) and account:
        return f"user {account}"
    if isinstance(credentials, google.oauth2.credentials.Credentials):
        return "the signed-in user"
    return "these credentials"


def _default() -> tuple[google.auth.credentials.Credentials, str]:
    try:
        creds, project = google.auth.default(scopes=list(GA4_SCOPES))
    except google.auth.exceptions.DefaultCredentialsError as e:
        raise ConfigError(f"no GA4 credentials: application default credentials not found ({_short(e)}); "
                          f"{_ADC_HELP}") from None
    where = f", project {project}" if project else ""
    return creds, f"{describe(creds)} (application default credentials{where})"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: credentials file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read credentials file: {_short(e)}") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: credentials file is not JSON (line {e.lineno} column {e.colno}: {e.msg})") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{path}: credentials file must hold a JSON object")
    return info


def _short(e: BaseException) -> str:
    # google-auth messages can span lines (and quote key material on parse errors): keep the first line only
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]
