"""Google Ads writes of `audit fix --apply`: re-read the fields a plan changes, then mutate them, validated first.

Only the apply path imports this module (it loads the google-ads library). Every mutate is an update with a field
mask naming exactly the planned field; there is no remove operation anywhere in this module. Conversion actions go
through `ConversionActionService.MutateConversionActions` (validate_only, then partial_failure), the account's
auto-tagging through `CustomerService.MutateCustomer`, a campaign goal's biddable flag through
`CampaignConversionGoalService.MutateCampaignConversionGoals` (both validate_only, then for real: those requests
take no partial_failure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.ads.googleads.errors import GoogleAdsException
from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure
from google.ads.googleads.v26.resources.types.campaign_conversion_goal import CampaignConversionGoal
from google.ads.googleads.v26.resources.types.conversion_action import ConversionAction
from google.ads.googleads.v26.resources.types.customer import Customer
from google.ads.googleads.v26.services.types import campaign_conversion_goal_service as goal_svc
from google.ads.googleads.v26.services.types import conversion_action_service as action_svc
from google.ads.googleads.v26.services.types import customer_service as customer_svc
from google.protobuf import field_mask_pb2

from auditor.connectors.ads import API_VERSION, AdsConnector, _error_code, _first_line, _source_error
from auditor.connectors.retry import Attempts
from auditor.errors import SourceError
from auditor.fix.model import MISSING, Change

READ_ACTIONS = """
SELECT conversion_action.resource_name, conversion_action.name, conversion_action.status,
  conversion_action.primary_for_goal, conversion_action.counting_type,
  conversion_action.attribution_model_settings.attribution_model
FROM conversion_action
"""
READ_CUSTOMER = "SELECT customer.id, customer.auto_tagging_enabled FROM customer"
READ_CAMPAIGN_GOALS = ("SELECT campaign_conversion_goal.resource_name, campaign_conversion_goal.biddable "
                       "FROM campaign_conversion_goal")


@dataclass(frozen=True)
class OpResult:
    """What one operation of a mutate came to: done (with the resource the API names), or an error line."""

    change: Change
    ok: bool
    detail: str = ""
    response: dict[str, Any] | None = None


class AdsWriter:
    def __init__(self, connector: AdsConnector) -> None:
        self.connector = connector

    def identity(self) -> dict[str, str]:
        return credential_identity(self.connector.settings.credentials)

    # -- reading --------------------------------------------------------------------------------------------

    def read(self, customer: str, login: str | None, changes: list[Change]) -> dict[tuple[str, str], Any]:
        """The value each change's field has now, by (resource, field); `MISSING` for a resource the account no
        longer has (or a conversion action that was removed). Raises SourceError."""
        kinds = {c.fix for c in changes}
        out: dict[tuple[str, str], Any] = {}
        login = login or self.connector.settings.login_customer_id
        if kinds & {"primary_for_goal", "counting_type", "attribution_model"}:
            rows = {o.get("resourceName"): o for o in _objects(self._query(customer, READ_ACTIONS, login),
                                                                "conversionAction")}
            for c in changes:
                obj = rows.get(c.resource)
                if c.api != "google_ads" or c.fix not in ("primary_for_goal", "counting_type", "attribution_model"):
                    continue
                out[(c.resource, c.field)] = MISSING if obj is None or obj.get("status") == "REMOVED" else \
                    _field(obj, c.field)
        if "auto_tagging" in kinds:
            objs = list(_objects(self._query(customer, READ_CUSTOMER, login), "customer"))
            for c in changes:
                if c.fix == "auto_tagging":
                    out[(c.resource, c.field)] = bool(objs[0].get("autoTaggingEnabled")) if objs else MISSING
        if "campaign_goal_biddable" in kinds:
            goals = {o.get("resourceName"): o for o in _objects(self._query(customer, READ_CAMPAIGN_GOALS, login),
                                                                 "campaignConversionGoal")}
            for c in changes:
                if c.fix == "campaign_goal_biddable":
                    obj = goals.get(c.resource)
                    out[(c.resource, c.field)] = MISSING if obj is None else bool(obj.get("biddable"))
        return out

    def _query(self, customer: str, query: str, login: str | None) -> list[dict[str, Any]]:
        return self.connector._stream(customer, query, login)

    # -- writing --------------------------------------------------------------------------------------------

    def mutate(self, customer: str, login: str | None, changes: list[Change], validate_only: bool) -> list[OpResult]:
        """One request per service for `changes` (all of one account). validate_only: the API checks and changes
        nothing. Otherwise conversion actions run with partial_failure: each operation succeeds or fails alone.
        Raises SourceError when a whole request is refused (permission, an invalid request)."""
        login = login or self.connector.settings.login_customer_id
        out: list[OpResult] = []
        actions = [c for c in changes if c.fix in ("primary_for_goal", "counting_type", "attribution_model")]
        if actions:
            out += self._actions(customer, login, actions, validate_only)
        for c in changes:
            if c.fix == "auto_tagging":
                out += self._single(customer, login, c, validate_only)
        goals = [c for c in changes if c.fix == "campaign_goal_biddable"]
        if goals:
            out += self._goals(customer, login, goals, validate_only)
        return out

    def _call(self, customer: str, login: str | None, service: str, method: str, request: Any,
              changes: list[Change]) -> Any:
        self.connector._ensure_token()
        svc = self.connector._client(login).get_service(service, version=API_VERSION)
        try:
            return getattr(svc, method)(request=request, retry=self.connector._retry(Attempts()),
                                        timeout=self.connector.settings.policy.timeout)
        except GoogleAdsException as e:
            per_op = _operation_errors(e.failure, changes)
            if per_op is not None:
                return per_op
            raise _source_error(customer, e, login) from None
        except SourceError:
            raise
        except Exception as e:  # any other failure (transport, auth, api-core) is one line for this account
            raise _source_error(customer, e, login) from None

    def _actions(self, customer: str, login: str | None, changes: list[Change], validate_only: bool) -> list[OpResult]:
        ops = []
        for c in changes:
            action = ConversionAction(resource_name=c.resource)
            if c.fix == "primary_for_goal":
                action.primary_for_goal = bool(c.after)
            elif c.fix == "counting_type":
                action.counting_type = c.after
            else:
                action.attribution_model_settings = ConversionAction.AttributionModelSettings(attribution_model=c.after)
            ops.append(action_svc.ConversionActionOperation(
                update=action, update_mask=field_mask_pb2.FieldMask(paths=[c.field])))
        request = action_svc.MutateConversionActionsRequest(
            customer_id=customer, operations=ops, validate_only=validate_only, partial_failure=not validate_only)
        response = self._call(customer, login, "ConversionActionService", "mutate_conversion_actions", request,
                              changes)
        if isinstance(response, list):  # the request failed with errors naming operations
            return response
        body = _json(response)
        failed = _partial_errors(response, changes)
        out = []
        for i, c in enumerate(changes):
            if c in failed:
                out.append(OpResult(c, False, failed[c], body))
            else:
                name = response.results[i].resource_name if i < len(response.results) else ""
                out.append(OpResult(c, True, name or ("validated" if validate_only else ""), body))
        return out

    def _single(self, customer: str, login: str | None, c: Change, validate_only: bool) -> list[OpResult]:
        request = customer_svc.MutateCustomerRequest(
            customer_id=customer, validate_only=validate_only,
            operation=customer_svc.CustomerOperation(update=Customer(resource_name=c.resource,
                                                                     auto_tagging_enabled=bool(c.after)),
                                                     update_mask=field_mask_pb2.FieldMask(paths=[c.field])))
        response = self._call(customer, login, "CustomerService", "mutate_customer", request, [c])
        if isinstance(response, list):
            return response
        return [OpResult(c, True, response.result.resource_name or "validated", _json(response))]

    def _goals(self, customer: str, login: str | None, changes: list[Change], validate_only: bool) -> list[OpResult]:
        ops = [goal_svc.CampaignConversionGoalOperation(
            update=CampaignConversionGoal(resource_name=c.resource, biddable=bool(c.after)),
            update_mask=field_mask_pb2.FieldMask(paths=[c.field])) for c in changes]
        request = goal_svc.MutateCampaignConversionGoalsRequest(customer_id=customer, operations=ops,
                                                                validate_only=validate_only)
        response = self._call(customer, login, "CampaignConversionGoalService", "mutate_campaign_conversion_goals",
                              request, changes)
        if isinstance(response, list):
            return response
        body = _json(response)
        return [OpResult(c, True, response.results[i].resource_name if i < len(response.results) else "", body)
                for i, c in enumerate(changes)]


def credential_identity(credentials: Any) -> dict[str, str]:
    """The kind of credentials and a non-secret, non-personal id: a service account's project domain (the part
    after @), never its full address, a user's address or any token."""
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and "@" in email:
        return {"type": "service_account", "id": email.rsplit("@", 1)[1]}
    kind = type(credentials).__module__.rsplit(".", 1)[-1]
    if kind == "credentials" and hasattr(credentials, "refresh_token"):
        return {"type": "oauth_user"}
    return {"type": kind or "unknown"}


def _objects(bodies: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [row[key] for body in bodies for row in body.get("results") or () if isinstance(row.get(key), dict)]


def _field(obj: dict[str, Any], path: str) -> Any:
    """A snake_case field path of a camelCase JSON object; an absent boolean is false."""
    import re

    value: Any = obj
    for part in path.split("."):
        camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part)
        value = value.get(camel) if isinstance(value, dict) else None
    if path in ("primary_for_goal", "auto_tagging_enabled", "biddable"):
        return bool(value)
    return value


def _json(message: Any) -> dict[str, Any]:
    return json.loads(type(message).to_json(message, use_integers_for_enums=False, indent=None))


def _error_lines(failure: Any, changes: list[Change]) -> dict[Change, str]:
    """Each operation's errors (by the index in their location) as one line."""
    out: dict[Change, str] = {}
    for error in failure.errors:
        index = next((e.index for e in error.location.field_path_elements if e.field_name in
                      ("operations", "operation")), None)
        if index is None or index >= len(changes):
            continue
        code, message = _error_code(error)
        c = changes[index]
        out[c] = (out[c] + "; " if c in out else "") + f"{code}: {_first_line(message).rstrip('. ')}"
    return out


def _operation_errors(failure: Any, changes: list[Change]) -> list[OpResult] | None:
    """A refused request whose errors all name operations -> one failed result per change; None otherwise (the
    whole request was refused, e.g. permission: the caller reports it as one line)."""
    lines = _error_lines(failure, changes) if failure is not None else {}
    if not lines:
        return None
    return [OpResult(c, False, lines.get(c, "not applied: another operation of the same request failed"))
            for c in changes]


def _partial_errors(response: Any, changes: list[Change]) -> dict[Change, str]:
    status = getattr(response, "partial_failure_error", None)
    if status is None or not status.code:
        return {}
    out: dict[Change, str] = {}
    for detail in status.details:
        try:
            failure = GoogleAdsFailure.deserialize(detail.value)
        except Exception:  # an unreadable detail only costs the detail
            continue
        out.update(_error_lines(failure, changes))
    if not out:  # a failure that names no operation fails them all
        message = _first_line(status.message or "partial failure")
        out = {c: message for c in changes}
    return out
