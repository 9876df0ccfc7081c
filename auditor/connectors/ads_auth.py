"""Google Ads settings the way the google-ads library's users already keep them: google-ads.yaml or GOOGLE_ADS_*.

Where it looks, first found wins: the path given; GOOGLE_ADS_CONFIGURATION_FILE_PATH; GOOGLE_ADS_* variables
(when any is set); ~/google-ads.yaml. The keys are the library's own (client_id, client_secret,
refresh_token, json_key_file_path, impersonated_email, login_customer_id, use_application_default_credentials,
endpoint, and the optional developer_token: sent only when set, since access belongs to the credentials' Google
Cloud project). The library's loaders are not used: they insist on
use_proto_plus and on a dash-free login_customer_id, and its client factories refresh the token at once.
Here nothing touches the network: credentials refresh on the first API call. Secrets never reach a message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from auditor.connectors.ads import AdsSettings
from auditor.connectors.retry import CallPolicy
from auditor.errors import ConfigError

ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
ENV_PREFIX = "GOOGLE_ADS_"
KEYS = ("developer_token", "client_id", "client_secret", "refresh_token", "json_key_file_path",
        "impersonated_email", "login_customer_id", "use_application_default_credentials", "endpoint",
        # deprecated spellings the library still reads
        "path_to_private_key_file", "delegated_account")
_OAUTH_KEYS = ("client_id", "client_secret", "refresh_token")


def load_ads_settings(config_path: str | None) -> AdsSettings:
    """Read the settings and build (not refresh) the credentials. ConfigError names what is missing, where."""
    config, where = _read_config(config_path)
    token = _text(config.get("developer_token")) or None  # optional: sent only when configured
    credentials = _credentials(config, where)
    login = _text(config.get("login_customer_id")) or None
    endpoint = os.environ.get("AUDITOR_ADS_ENDPOINT") or _text(config.get("endpoint")) or None
    try:
        return AdsSettings(developer_token=token, credentials=credentials, login_customer_id=login,
                           endpoint=endpoint, policy=CallPolicy.from_env())
    except ConfigError as e:
        raise ConfigError(f"{e} (in {where})") from None


def token_note(settings: AdsSettings) -> str:
    """Whether the developer token is sent, for -v (never the token itself)."""
    if settings.developer_token:
        return ("Google Ads: developer token sent (optional and ignored since developer tokens were sunset on "
                "9 September 2026; access is the Google Cloud project's)")
    return ("Google Ads: no developer token configured (not needed since developer tokens were sunset on "
            "9 September 2026; access is the Google Cloud project's)")


def oauth_credentials(client_id: str, client_secret: str, refresh_token: str,
                      token_uri: str = DEFAULT_TOKEN_URI) -> Any:
    """User OAuth credentials that fetch their access token lazily, on the first call."""
    from google.oauth2.credentials import Credentials

    return Credentials(token=None, refresh_token=refresh_token, client_id=client_id, client_secret=client_secret,
                       token_uri=token_uri, scopes=[ADWORDS_SCOPE])


def _read_config(config_path: str | None) -> tuple[dict[str, Any], str]:
    """The settings dict and where it came from, for messages."""
    env_file = os.environ.get(ENV_PREFIX + "CONFIGURATION_FILE_PATH")
    if config_path:
        return _read_yaml(Path(config_path).expanduser()), str(config_path)
    if env_file:
        return _read_yaml(Path(env_file).expanduser()), f"{env_file} (GOOGLE_ADS_CONFIGURATION_FILE_PATH)"
    env = {k: os.environ[ENV_PREFIX + k.upper()] for k in KEYS if os.environ.get(ENV_PREFIX + k.upper())}
    if env:
        return env, "the GOOGLE_ADS_* environment variables"
    home = Path("~/google-ads.yaml").expanduser()
    if home.is_file():
        return _read_yaml(home), str(home)
    raise ConfigError(
        "Google Ads settings not found: give the path of a google-ads.yaml, set GOOGLE_ADS_CONFIGURATION_FILE_PATH "
        f"or GOOGLE_ADS_* variables with credentials (GOOGLE_ADS_JSON_KEY_FILE_PATH, or GOOGLE_ADS_CLIENT_ID, "
        f"GOOGLE_ADS_CLIENT_SECRET and GOOGLE_ADS_REFRESH_TOKEN), or create {home}")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read Google Ads settings: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected key: value settings (client_id, client_secret, ...)")
    return data


def _credentials(config: dict[str, Any], where: str) -> Any:
    key_file = _text(config.get("json_key_file_path") or config.get("path_to_private_key_file"))
    oauth = {k: _text(config.get(k)) for k in _OAUTH_KEYS}
    if _flag(config.get("use_application_default_credentials")):
        import google.auth
        from google.auth import exceptions as auth_exc

        try:
            credentials, _ = google.auth.default(scopes=[ADWORDS_SCOPE])
        except auth_exc.DefaultCredentialsError:
            raise ConfigError(f"Google Ads: use_application_default_credentials is set in {where} but no "
                              "application default credentials were found (run gcloud auth "
                              "application-default login)") from None
        return credentials
    if all(oauth.values()):
        return oauth_credentials(oauth["client_id"], oauth["client_secret"], oauth["refresh_token"])
    if key_file:
        return _service_account(key_file, _text(config.get("impersonated_email") or config.get("delegated_account")))
    if any(oauth.values()):
        lacking = ", ".join(k for k, v in oauth.items() if not v)
        raise ConfigError(f"Google Ads: OAuth credentials in {where} lack {lacking}")
    raise ConfigError(f"Google Ads: no credentials in {where}: set client_id, client_secret and refresh_token "
                      "(OAuth) or json_key_file_path (service account)")


def _service_account(path: str, subject: str | None) -> Any:
    from google.oauth2 import service_account

    file = Path(path).expanduser()
    try:
        return service_account.Credentials.from_service_account_file(
            str(file), scopes=[ADWORDS_SCOPE], subject=subject or None)
    except FileNotFoundError:
        raise ConfigError(f"Google Ads: json_key_file_path {file}: no such file") from None
    except OSError as e:
        raise ConfigError(f"Google Ads: json_key_file_path {file}: cannot read: {e.strerror or e}") from None
    except ValueError:  # the key's contents are secret: name the file, not what is in it
        raise ConfigError(f"Google Ads: json_key_file_path {file}: not a service-account key file") from None


def _text(value: Any) -> str:
    # YAML reads an unquoted 1234567890 as a number
    return "" if value is None else str(value).strip()


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")
