"""GA4 Admin writes of `audit fix --apply`: one call at a time, with credentials scoped to `analytics.edit`.

Only the apply path imports this module. Reads (`audit`, `audit record`, `audit fix --plan`) never ask for more than
`analytics.readonly`; apply asks for `analytics.edit` here, separately, and says so. The Admin API has no
validate-only mode: each write is made once the field was re-read and found at the plan's value. Writes used:
`properties.keyEvents.delete` (unmark; the event keeps being collected), `properties.keyEvents.create` (undo: mark
it again with the settings the plan recorded), `properties.keyEvents.patch` (counting_method),
`properties.updateDataRetentionSettings`, and the v1alpha `properties.updateAttributionSettings`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import google.auth
import google.auth.exceptions
import google.oauth2.credentials
from google.analytics import admin_v1alpha, admin_v1beta
from google.api_core import exceptions as gexc
from google.oauth2 import service_account
from google.protobuf import field_mask_pb2

from auditor.connectors.ga4 import ENV_ADMIN_ENDPOINT
from auditor.connectors.retry import TRANSIENT, CallPolicy
from auditor.errors import ConfigError, SourceError
from auditor.fix.ads_writer import credential_identity
from auditor.fix.model import Change

EDIT_SCOPE = "https://www.googleapis.com/auth/analytics.edit"


def edit_credentials(key_file: str | None) -> Any:
    """GA4 credentials scoped to analytics.edit: a service-account key, an authorized-user file created with that
    scope, or application default credentials."""
    from auditor.connectors.ga4_auth import _read_json

    if key_file is None:
        try:
            creds, _ = google.auth.default(scopes=[EDIT_SCOPE])
        except google.auth.exceptions.DefaultCredentialsError:
            raise ConfigError("no GA4 credentials for writing: pass --ga4-credentials, or run `gcloud auth "
                              f"application-default login --scopes={EDIT_SCOPE},"
                              "https://www.googleapis.com/auth/cloud-platform`") from None
        return creds
    from pathlib import Path

    path = Path(key_file).expanduser()
    info = _read_json(path)
    try:
        if info.get("type") == "service_account":
            return service_account.Credentials.from_service_account_info(info, scopes=[EDIT_SCOPE])
        if info.get("type") == "authorized_user":
            return google.oauth2.credentials.Credentials.from_authorized_user_info(info, scopes=[EDIT_SCOPE])
    except (ValueError, KeyError, google.auth.exceptions.GoogleAuthError):
        raise ConfigError(f"{path}: not a usable credentials file") from None
    raise ConfigError(f"{path}: writing needs a service-account key or an authorized-user JSON")


class GA4Writer:
    """Re-reads and writes the GA4 settings a plan changes, for one property at a time."""

    def __init__(self, key_file: str | None) -> None:
        self.credentials = edit_credentials(key_file)
        self.policy = CallPolicy.from_env()
        endpoint = os.environ.get(ENV_ADMIN_ENDPOINT) or None
        self._admin = self._client(admin_v1beta.AnalyticsAdminServiceClient, endpoint)
        self._alpha = self._client(admin_v1alpha.AnalyticsAdminServiceClient, endpoint)

    def _client(self, cls: Any, endpoint: str | None) -> Any:
        rest = cls.get_transport_class("rest")
        options: dict[str, Any] = {"scopes": [EDIT_SCOPE]}
        if endpoint:
            options["api_endpoint"] = endpoint.rstrip("/")
        return cls(credentials=self.credentials,
                   transport=lambda **kw: rest(**{**kw, "always_use_jwt_access": False}), client_options=options)

    def identity(self) -> dict[str, str]:
        return credential_identity(self.credentials)

    def ensure_token(self) -> None:
        from google.auth.transport.requests import Request

        try:
            self.credentials.refresh(Request())
        except google.auth.exceptions.RefreshError as e:
            raise ConfigError(f"GA4: the token endpoint refused credentials for the {EDIT_SCOPE} scope "
                              f"({_line(str(e.args[0]) if e.args else str(e))})") from None
        except google.auth.exceptions.TransportError as e:
            raise SourceError(f"GA4: cannot reach the token endpoint ({_line(str(e))})") from None

    # -- reading --------------------------------------------------------------------------------------------

    def key_events(self, property_id: str) -> list[dict[str, Any]]:
        found = self._do(property_id, "keyEvents.list", lambda r: list(self._admin.list_key_events(
            request={"parent": f"properties/{property_id}", "page_size": 200}, retry=r, timeout=self.policy.timeout)))
        return [_dict(k) for k in found]

    def read(self, property_id: str, changes: list[Change]) -> dict[tuple[str, str], Any]:
        """The value each change's field has now. A key event change reads the property's key events: the value is
        the key event's settings, keyed by resource and also by ('event', event_name)."""
        from auditor.fix.plan import key_event_settings

        out: dict[tuple[str, str], Any] = {}
        kinds = {c.fix for c in changes}
        if kinds & {"key_event", "key_event_counting_method"}:
            for k in self.key_events(property_id):
                settings = key_event_settings(_KeyEvent(k))
                out[(k["name"], "key_event")] = settings
                out[("event", settings["event_name"])] = (k["name"], settings)
                out[(k["name"], "counting_method")] = settings["counting_method"]
        for c in changes:
            if c.fix == "data_retention":
                body = _dict(self._do(property_id, "getDataRetentionSettings",
                                      lambda r, n=c.resource: self._admin.get_data_retention_settings(
                                          name=n, retry=r, timeout=self.policy.timeout)))
                out[(c.resource, c.field)] = body.get("eventDataRetention")
            elif c.fix == "export_scope":
                body = _dict(self._do(property_id, "getAttributionSettings",
                                      lambda r, n=c.resource: self._alpha.get_attribution_settings(
                                          name=n, retry=r, timeout=self.policy.timeout)))
                out[(c.resource, c.field)] = body.get("adsWebConversionDataExportScope")
        return out

    # -- writing (one call each) ----------------------------------------------------------------------------

    def write(self, property_id: str, c: Change) -> dict[str, Any]:
        """Make one change; the API's answer as JSON (for a key event marked again, the new key event)."""
        t = self.policy.timeout
        if c.fix == "key_event" and c.after is None:
            self._do(property_id, "keyEvents.delete", lambda r: self._admin.delete_key_event(
                name=c.resource, retry=None, timeout=t))
            return {}
        if c.fix == "key_event":
            ke = admin_v1beta.KeyEvent(event_name=c.after["event_name"],
                                       counting_method=c.after["counting_method"])
            dv = c.after.get("default_value")
            if dv:
                ke.default_value = admin_v1beta.KeyEvent.DefaultValue(numeric_value=dv["numeric_value"],
                                                                      currency_code=dv["currency_code"])
            return _dict(self._do(property_id, "keyEvents.create", lambda r: self._admin.create_key_event(
                parent=c.resource, key_event=ke, retry=None, timeout=t)))
        mask = field_mask_pb2.FieldMask(paths=[c.field])
        if c.fix == "key_event_counting_method":
            ke = admin_v1beta.KeyEvent(name=c.resource, counting_method=c.after)
            return _dict(self._do(property_id, "keyEvents.patch", lambda r: self._admin.update_key_event(
                key_event=ke, update_mask=mask, retry=r, timeout=t)))
        if c.fix == "data_retention":
            s = admin_v1beta.DataRetentionSettings(name=c.resource, event_data_retention=c.after)
            return _dict(self._do(property_id, "updateDataRetentionSettings",
                                  lambda r: self._admin.update_data_retention_settings(
                                      data_retention_settings=s, update_mask=mask, retry=r, timeout=t)))
        if c.fix == "export_scope":
            a = admin_v1alpha.AttributionSettings(name=c.resource, ads_web_conversion_data_export_scope=c.after)
            return _dict(self._do(property_id, "updateAttributionSettings",
                                  lambda r: self._alpha.update_attribution_settings(
                                      attribution_settings=a, update_mask=mask, retry=r, timeout=t)))
        raise SourceError(f"GA4 property {property_id}: fix {c.fix} is not a GA4 write")

    def _do(self, property_id: str, call: str, fn: Any) -> Any:
        try:
            return fn(self.policy.retry(TRANSIENT))
        except Exception as e:  # every failure is one line naming the property and the call
            if isinstance(e, gexc.RetryError) and e.cause is not None:
                e = e.cause  # type: ignore[assignment]
            raise SourceError(f"GA4 property {property_id}: {call}: {_explain(e)}") from None


class _KeyEvent:
    """A key event's JSON as `key_event_settings` reads a model KeyEvent."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.event_name = d.get("eventName", "")
        self.counting_method = d.get("countingMethod", "")
        dv = d.get("defaultValue") or {}
        self.default_value = dv.get("numericValue") if dv else None
        self.default_currency = dv.get("currencyCode")


def _dict(message: Any) -> dict[str, Any]:
    if message is None:
        return {}
    return json.loads(type(message).to_json(message, use_integers_for_enums=False, indent=None))


def _explain(e: BaseException) -> str:
    if isinstance(e, gexc.GoogleAPICallError):
        # REST errors open with the request ("DELETE https://...: "): the call is named already
        text = _line(re.sub(r"^(?:GET|POST|PATCH|DELETE) \S+: ", "", e.message or str(e)))
        if e.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" or "insufficient authentication scopes" in text.lower():
            return f"the credentials lack the {EDIT_SCOPE} scope ({text})"
        if isinstance(e, gexc.Forbidden):
            return (f"PERMISSION_DENIED ({text}); writing needs the Editor role under GA4 Admin > Property access "
                    "management")
        status = e.grpc_status_code.name if e.grpc_status_code else str(e.code)
        return f"{status} ({text})"
    return f"{type(e).__name__}: {_line(str(e))}"


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."
