"""Honest recordings: what `audit record` redacts before writing (auditor.connectors.redact) and how it merges a
folder's manifest.json when recording into it again (auditor.commands.record.merge_manifest)."""

from __future__ import annotations

import json
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.audit import recorded_missing
from auditor.commands.record import guard_entry, merge_manifest, read_manifest
from auditor.connectors.redact import REDACTED, redact, scrub, sensitive_key, sensitive_param
from auditor.errors import ConfigError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# -- keys -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    # one word, plural, every separator and case: the spellings the word-split matcher missed
    "apikey", "accesstoken", "refreshtoken", "clientsecret", "tokens", "secrets", "passwords", "APIKEY", "APIKey",
    "APIkey", "api_key", "x-api-key", "X-Goog-Api-Key", "client.secret", "client-secrets", "refresh_tokens",
    "idToken", "developer_token", "developerToken", "password", "passwd", "pwd", "passphrase", "credentials",
    "credentialsFile", "privateKey", "private_key_id", "accessKey", "secretKey", "authorization",
    "Proxy-Authorization", "auth", "oauth", "oauthToken", "bearer", "cookie", "cookies", "Set-Cookie",
    "sessionId", "session_ids", "sessionKey", "signature", "email", "emails", "e-mail", "E_Mails",
    "emailAddress", "emailaddresses", "creatorEmailAddress", "userEmails", "jwt", "passwordHash",
])
def test_sensitive_keys(key: str) -> None:
    assert sensitive_key(key)
    assert redact("x", {key: "value"}) == {key: REDACTED}


@pytest.mark.parametrize("key", [
    # every key of the sample fixtures but creatorEmailAddress, and near-misses that are not secrets
    "nextPageToken", "pageToken", "next_page_token", "tokensPerDay", "tokensPerHour", "tokensPerProjectPerHour",
    "keyEvents", "key", "sessions", "sessionsPerUser", "author", "authorName", "tokenizer", "secretary", "status",
    "countingMethod", "propertyId", "customerId", "descriptiveName", "eventName", "displayName", "resourceName",
    "concurrentRequests", "requestId", "name", "value", "primaryForGoal", "adsPersonalizationEnabled",
    # the campaign-level files: tracking settings, campaigns, goals, attribution settings
    "autoTaggingEnabled", "conversionTrackingSetting", "crossAccountConversionTrackingId",
    "googleAdsConversionCustomer", "acceptedCustomerDataTerms", "targetCpaMicros", "targetRoas", "costMicros",
    "biddingStrategyType", "goalConfigLevel", "customConversionGoal", "conversionActions", "biddable",
    "googleAdsCustomerId", "adsWebConversionDataExportScope", "reportingAttributionModel",
    "acquisitionConversionEventLookbackWindow", "otherConversionEventLookbackWindow",
])
def test_harmless_keys(key: str) -> None:
    assert not sensitive_key(key)


def test_flags_and_counts_under_sensitive_keys_stay() -> None:
    body = {"emailOptIn": True, "tokenCount": 3, "secretRatio": 0.5, "password": None,
            "tokensPerDay": {"consumed": 3, "remaining": 24997}}
    assert redact("x", body) == body


def test_any_value_under_a_secret_key_is_dropped_but_counts_about_secrets_stay() -> None:
    body = {"password": 123456, "client_secret": 987654321, "pin": 4321, "passcode": 12.5, "otp": "123456",
            "licenseKey": ["k1", "k2"], "refresh_token": {"v": 1}, "tokenCount": 3, "passwordLength": 12,
            "sortKey": "a", "keyEvents": 4}
    assert redact("x", body) == {**{k: REDACTED for k in list(body)[:7]}, "tokenCount": 3, "passwordLength": 12,
                                 "sortKey": "a", "keyEvents": 4}


@pytest.mark.parametrize(("text", "want"), [
    ("developer_token: ABCDEFGHIJ123456789012", f"developer_token: {REDACTED}"),
    ("refresh_token: 1/abcdefghijk", f"refresh_token: {REDACTED}"),
    ("password=hunter22 then", f"password={REDACTED} then"),
    ("password = hunter22, then", f"password = {REDACTED}, then"),
    ("PIN: 1234.", f"PIN: {REDACTED}."),
    ('{"password": 123456}', f'{{"password": {REDACTED}}}'),
    ("error: token: abc123", f"error: token: {REDACTED}"),
    ("developer token ABCDEFGHIJ123456789012 is not approved", f"developer token {REDACTED} is not approved"),
    ("mail root@localhost now", f"mail {REDACTED} now"),
    # left alone: an error code naming a token, a count, a 22-letter word, a version pin, a request id field
    ("DEVELOPER_TOKEN_NOT_APPROVED: the token is approved", "DEVELOPER_TOKEN_NOT_APPROVED: the token is approved"),
    ("tokenCount: 3", "tokenCount: 3"),
    ("funnelStepAbandonments", "funnelStepAbandonments"),
    ("pkg@1", "pkg@1"),
])
def test_labelled_values_bare_developer_tokens_and_local_addresses(text: str, want: str) -> None:
    assert scrub(text) == want
    assert scrub(want) == want


def test_a_request_id_has_a_developer_tokens_shape_and_is_kept() -> None:
    body = {"requestId": "dukI0DQROz8BbEPiRW0Tuv", "message": "token dukI0DQROz8BbEPiRW0Tuv"}
    assert redact("ads/x.json", body) == {"requestId": "dukI0DQROz8BbEPiRW0Tuv", "message": f"token {REDACTED}"}


@pytest.mark.parametrize("name", ["access_token", "ACCESS_TOKEN", "key", "Key", "code", "token", "api_key",
                                  "refresh_token", "client_secret", "password", "sig", "X-Goog-Signature",
                                  "X-Goog-Credential", "access%5Ftoken"])
def test_sensitive_query_parameters(name: str) -> None:
    assert sensitive_param(name)
    url = f"https://api.example/v1/x?utm_source=news&{name}=Zz81abcdef&page=2#top"
    assert scrub(url) == f"https://api.example/v1/x?utm_source=news&{name}={REDACTED}&page=2#top"


@pytest.mark.parametrize("name", ["page", "pageToken", "utm_source", "page_size", "fields", "alt"])
def test_harmless_query_parameters(name: str) -> None:
    url = f"https://api.example/v1/x?{name}=abc123"
    assert scrub(url) == url


# -- values -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "want"), [
    ("Authorization: Bearer abc123xyz", f"Authorization: {REDACTED}"),
    ("sent authorization: bearer Zz81abcdef\nthen", f"sent authorization: {REDACTED}\nthen"),
    ("use Bearer ya29.a0AfH6SMxx now", f"use Bearer {REDACTED} now"),
    ("token ya29.a0AfH6SMBx-Yz_12 expired", f"token {REDACTED} expired"),
    ("refresh 1//0gAbCdEfGhIjKlMn ok", f"refresh {REDACTED} ok"),
    ("r=1%2F%2F0gAbCdEfGhIjKl", f"r={REDACTED}"),
    ("code 4/0AbCdEfGhIjKlMnOpQrStUvWx", f"code {REDACTED}"),
    ("key AIzaSyA1234567890abcdefghijklmnopqrstu", f"key {REDACTED}"),
    ("secret GOCSPX-abcdefghijklmnop", f"secret {REDACTED}"),
    ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", f"jwt {REDACTED}"),
    ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", REDACTED),
    ("cb?access_token=ya29.abc&expires_in=3599", f"cb?access_token={REDACTED}&expires_in=3599"),
    ("grant_type=refresh_token&refresh_token=abcd&client_id=1.apps",
     f"grant_type=refresh_token&refresh_token={REDACTED}&client_id=1.apps"),
    ("next=https%3A%2F%2Fx.example%2Fcb%3Faccess_token%3Dsecret123%26a%3D1",
     f"next=https%3A%2F%2Fx.example%2Fcb%3Faccess_token%3D{REDACTED}%26a%3D1"),
    ("next=https%3A%2F%2Fx.example%2Fcb%3Fa%3D1%26access_token%3Dsecret123",
     f"next=https%3A%2F%2Fx.example%2Fcb%3Fa%3D1%26access_token%3D{REDACTED}"),
    ('body {"refresh_token": "abcdef", "x": 1}', f'body {{"refresh_token": "{REDACTED}", "x": 1}}'),
    ("{'clientSecret': 'abc'}", f"{{'clientSecret': '{REDACTED}'}}"),
    # e-mail addresses: plain, mixed case, URL-encoded (once, twice), HTML, internationalised
    ("owner jane.doe+ga@mail.example.co.uk.", f"owner {REDACTED}."),
    ("Jane.Doe@Example.COM", REDACTED),
    ("?user=john%40example.com&x=1", f"?user={REDACTED}&x=1"),
    ("john%2540example.com", REDACTED),
    ("J%C3%BCrgen%40b%C3%BCcher.de", REDACTED),
    ("a&#64;b.example", REDACTED),
    ("jürgen@bücher.de wrote", f"{REDACTED} wrote"),
    ("联系：用户@例子.广告。", f"联系：{REDACTED}。"),
    ("почта: иван@пример.рф", f"почта: {REDACTED}"),
    ("user@xn--bcher-kva.example", REDACTED),
    # left alone: prose about tokens, resource names, timestamps, messages the audit reports
    ("bearer tokens are accepted", "bearer tokens are accepted"),
    ("Bearer authentication", "Bearer authentication"),
    ("customers/2609718453/conversionActions/6914502378", "customers/2609718453/conversionActions/6914502378"),
    ("2024-05-28T13:51:37.425Z", "2024-05-28T13:51:37.425Z"),
    ("Google Ads customer 1: DEVELOPER_TOKEN_NOT_APPROVED: the developer token is approved for test accounts only",
     "Google Ads customer 1: DEVELOPER_TOKEN_NOT_APPROVED: the developer token is approved for test accounts only"),
    ("Expected OAuth 2 access token, login cookie or other valid authentication credential.",
     "Expected OAuth 2 access token, login cookie or other valid authentication credential."),
])
def test_scrub(text: str, want: str) -> None:
    assert scrub(text) == want
    assert scrub(want) == want  # idempotent: recordings re-redacted (the manifest on merge) do not change


@pytest.mark.parametrize("text", ["%40" * 20000, "a@" * 50000, "x=" * 50000, "a%3D" * 30000, '"a": "' * 20000])
def test_pathological_strings_take_linear_time(text: str) -> None:
    # a single address regex took minutes on "%40%40...": an "at" sign is also a character of a local part
    started = time.monotonic()
    scrub(text)
    assert time.monotonic() - started < 5


def test_address_keys_are_replaced_by_unique_names() -> None:
    body = {"a@b.example": 1, "[redacted]": 2, "C%40D.example": {"ya29.secret": "x", "ok": "y"}, "plain": 3}
    out = redact("x", body)
    assert out == {"[redacted-2]": 1, "[redacted]": 2, "[redacted-3]": {"[redacted]": "x", "ok": "y"}, "plain": 3}
    assert json.loads(json.dumps(out)) == out


def test_input_is_not_modified() -> None:
    body = {"password": "p", "list": [{"email": "a@b.example"}], "a@b.example": 1}
    before = json.dumps(body)
    redact("x", body)
    assert json.dumps(body) == before


# -- the sample fixtures ------------------------------------------------------------------------------------------

FIXTURE_FILES = sorted(FIXTURES.glob("*/*/*.json"))


def _bodies(path: Path) -> list[Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]  # searchStream batches and funnel reports: arrays


def _redacted_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _redacted_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _redacted_paths(v, (*path, i))]
    return [path] if value == REDACTED else []


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_sample_fixtures_pass_unchanged(path: Path) -> None:
    """Redaction keeps every field the audit reads: a sample body comes out identical, and the only redacted
    values in it are personal fields (creatorEmailAddress) that were redacted when the sample was made."""
    key = "/".join(path.parts[-2:])
    for body in _bodies(path):
        assert redact(key, body) == body
        assert {p[-1] for p in _redacted_paths(body)} <= {"creatorEmailAddress"}


def test_sample_fixture_with_real_addresses_comes_out_as_recorded() -> None:
    path = FIXTURES / "northwind-outfitters/ga4/google_ads_links.json"
    text = path.read_text(encoding="utf-8")
    assert '"[redacted]"' in text
    served = json.loads(text.replace('"[redacted]"', json.dumps("Jürgen.Müller@bücher.example")))
    assert redact("ga4/google_ads_links.json", served) == json.loads(text)


def test_campaign_level_free_text_is_scrubbed_and_ids_kept() -> None:
    """Campaign and custom goal names are free text: an address typed into one is removed like anywhere else; the
    ids the rules join on (GA4's dashed customer id, a cross-account tracking id) are not secrets and stay."""
    campaigns = json.loads((FIXTURES / "keystone-legal/ads/campaigns.json").read_text(encoding="utf-8"))
    campaigns[0]["results"][0]["campaign"]["name"] = "Search - Commercial disputes (owner: ops@keystone.example)"
    out = redact("ads/campaigns.json", campaigns[0])
    assert out["results"][0]["campaign"]["name"] == "Search - Commercial disputes (owner: [redacted])"
    assert out["results"][1:] == campaigns[0]["results"][1:]
    setting = {"results": [{"customer": {"id": "2609718453", "conversionTrackingSetting": {
        "crossAccountConversionTrackingId": "9999999999", "googleAdsConversionCustomer": "customers/9999999999"}}}]}
    assert redact("ads/customer.json", setting) == setting
    report = json.loads((FIXTURES / "keystone-legal/ga4/ads_key_events.json").read_text(encoding="utf-8"))
    assert redact("ga4/ads_key_events.json", report) == report
    assert "260-971-8453" in json.dumps(report)


def test_import_diagnostics_keep_ids_dates_and_codes_and_scrub_free_text() -> None:
    """The upload summaries and the conversion lag come out as recorded (ids, upload times, error codes, shares);
    an address in an action's name, free text, is removed."""
    for key in ("ads/offline_upload_client_summaries.json", "ads/offline_upload_action_summaries.json",
                "ads/conversion_lag.json"):
        batches = json.loads((FIXTURES / "ridgeline-roofing" / key).read_text(encoding="utf-8"))
        assert [redact(key, b) for b in batches] == batches, key
    key = "ads/offline_upload_action_summaries.json"
    [batch] = json.loads((FIXTURES / "ridgeline-roofing" / key).read_text(encoding="utf-8"))
    summary = batch["results"][0]["offlineConversionUploadConversionActionSummary"]
    summary["conversionActionName"] = "Qualified lead (CRM, sync by crm-admin@ridgeline.example)"
    out = redact(key, batch)["results"][0]["offlineConversionUploadConversionActionSummary"]
    assert out["conversionActionName"] == "Qualified lead (CRM, sync by [redacted])"
    assert {k: v for k, v in out.items() if k != "conversionActionName"} == {
        k: v for k, v in summary.items() if k != "conversionActionName"}


# -- property: planted secrets never survive, everything else does ------------------------------------------------

MARK = "qx7"  # in every planted secret and address (any case); harmless text can never contain it (a digit)
# harmless words: consonants without j, p, s, t, w, so no sensitive word ("pwd", "jwt", "token" ...) can form
HARMLESS = st.text(alphabet="bcdfghklmnqrvxz", min_size=1, max_size=7)
REAL_TEXT = st.sampled_from([
    "customers/2609718453/conversionActions/6914502378", "2024-05-28T13:51:37.425Z", "Europe/London",
    "https://shop.example/checkout?utm_source=news&page=2", "properties/318406725", "purchase", "sign_up",
    "bearer tokens are accepted", "GA4 Admin getDataRetentionSettings: permission denied", "",
])
REAL_KEYS = sorted({"nextPageToken", "pageToken", "tokensPerDay", "keyEvents", "key", "sessions", "author",
                    "displayName", "eventName", "conversionAction", "metricValues", "rows", "name", "value"})


@dataclass(frozen=True)
class Planted:
    """Where a secret was planted: anything without the mark may come out."""


@dataclass(frozen=True)
class Gone:
    """A value of any type under a secret key: it must come out as "[redacted]"."""


@dataclass(frozen=True)
class Around:
    """A string holding a secret between harmless text: that text must survive (`after` None: may be cut)."""
    before: str
    after: str | None


@dataclass(frozen=True)
class AddressKey:
    """A key that is an address: it must come out as "[redacted]" or "[redacted-N]"."""
    n: int


SECRET = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=24).map(
    lambda s: "Qx7" + s)


def _style(words: list[str], style: str) -> str:
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == "pascal":
        return "".join(w.capitalize() for w in words)
    if style == "upper":
        return "_".join(words).upper()
    if style == "one":
        return "".join(words)
    return {"snake": "_", "kebab": "-", "dot": "."}[style].join(words)


# compounds whose last stem alone marks them, so any prefix word may come before them
HEADED = [["token"], ["secret"], ["password"], ["passwd"], ["credential"], ["api", "key"], ["private", "key"],
          ["access", "key"], ["access", "token"], ["refresh", "token"], ["client", "secret"], ["id", "token"],
          ["developer", "token"], ["auth", "token"], ["authorization"], ["bearer"], ["cookie"], ["session", "id"],
          ["email"], ["email", "address"], ["secret", "key"], ["passphrase"]]
BARE = [["auth"], ["oauth"], ["pwd"], ["jwt"], ["signature"], ["e", "mail"], ["pin"], ["passcode"], ["otp"]]


@st.composite
def sensitive_keys(draw: st.DrawFn) -> str:
    words = list(draw(st.sampled_from(HEADED + BARE)))
    if words in HEADED:
        words = draw(st.sampled_from([[], ["user"], ["my"], ["google"], ["x"]])) + words
    if draw(st.booleans()):  # plural
        words[-1] += "es" if words[-1].endswith("ss") else "s"
    style = draw(st.sampled_from(["camel", "pascal", "upper", "snake", "kebab", "dot"] +
                                 (["one"] if words[-1] not in ("e", "mails") else [])))
    return _style(words, style)


INTL_LETTERS = "üéßñøåçдждлягуь用户名例子广告"


@st.composite
def addresses(draw: st.DrawFn) -> str:
    local = "qx7" + draw(st.text(alphabet=string.ascii_lowercase + string.digits + "._+-" + INTL_LETTERS,
                                 max_size=8))
    label = st.text(alphabet=string.ascii_lowercase + string.digits + INTL_LETTERS, min_size=1, max_size=8)
    domain = ".".join(draw(st.lists(label, min_size=1, max_size=2)))
    tld = draw(st.sampled_from(["com", "de", "co.uk", "example", "广告", "рф", "xn--p1ai"]))
    address = f"{local}@{domain}.{tld}"
    case = draw(st.sampled_from([str, str.upper, str.title]))
    encode = draw(st.sampled_from([str, lambda a: quote(a, safe=""), lambda a: a.replace("@", "%40"),
                                   lambda a: f"mailto:{a}"]))
    return encode(case(address))


@st.composite
def planted_text(draw: st.DrawFn) -> tuple[str, Any]:
    secret = draw(SECRET)
    before, after = draw(HARMLESS), draw(HARMLESS)
    kind = draw(st.sampled_from(["address", "bearer", "header", "ya29", "refresh", "url", "quoted", "labelled",
                                 "developer-token", "host-address"]))
    if kind == "header":  # a header runs to the end of its line: what follows may go with it
        scheme = draw(st.sampled_from(["Bearer", "bearer", "Basic", "Token"]))
        name = draw(st.sampled_from(["Authorization", "authorization", "Proxy-Authorization", "Cookie"]))
        return f"{before} {name}: {scheme} {secret}", Around(before, None)
    if kind == "labelled":  # name: value, name=value, name = value, "name": value in prose or a log line
        name = draw(sensitive_keys())
        sep = draw(st.sampled_from([": ", ":", "=", " = ", " : "]))
        quote_name = draw(st.sampled_from(["", '"', "'"]))
        text = f"{before} {quote_name}{name}{quote_name}{sep}{secret} {after}"
        header = re.search(r"(?i)\b(authorization|cookie|api-key|developer-token)\W*:", text)
        return text, Around(before, None if header else after)  # a header name takes its line with it
    middle = {
        "address": lambda: draw(addresses()),
        "bearer": lambda: f"{draw(st.sampled_from(['Bearer', 'bearer', 'BEARER']))} {secret}",
        "ya29": lambda: f"ya29.{secret}",
        "refresh": lambda: f"1//{secret}",
        "url": lambda: (f"https://api.example/v1/x?{draw(HARMLESS)}=1&{draw(st.sampled_from(QUERY_NAMES))}="
                        f"{draw(st.sampled_from(['', 'ya29.']))}{secret}&page=2"),
        "quoted": lambda: f'{{"{draw(sensitive_keys())}": "{secret}"}}',
        # a Google Ads developer token alone in a message: 22 letters and digits
        "developer-token": lambda: "Qx7" + draw(st.text(alphabet=string.ascii_letters + string.digits,
                                                        min_size=19, max_size=19)),
        "host-address": lambda: f"qx7{draw(HARMLESS)}@{draw(st.sampled_from(['localhost', 'db', 'mailhost']))}",
    }[kind]()
    return f"{before} {middle} {after}", Around(before, after)


QUERY_NAMES = ["access_token", "ACCESS_TOKEN", "accessToken", "key", "Key", "token", "code", "api_key", "apiKey",
               "refresh_token", "client_secret", "password", "id_token", "X-Goog-Signature", "sig", "auth"]

HARMLESS_LEAF = st.one_of(
    HARMLESS, REAL_TEXT, st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(),
).map(lambda v: (v, v))
PLANTED_LEAF = st.one_of(planted_text(), addresses().map(lambda a: (a, Planted())))


def _containers(children: st.SearchStrategy[tuple[Any, Any]]) -> st.SearchStrategy[tuple[Any, Any]]:
    secret_value = st.one_of(SECRET, st.lists(SECRET, min_size=1, max_size=2),
                             st.dictionaries(HARMLESS, SECRET, min_size=1, max_size=2))
    entry = st.one_of(
        st.tuples(st.one_of(HARMLESS, st.sampled_from(REAL_KEYS)), children),
        st.tuples(sensitive_keys(), secret_value.map(lambda v: (v, Planted()))),
        # any type under a secret key: a numeric PIN, password or secret is dropped too
        st.tuples(sensitive_keys(), st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
                  .map(lambda v: (v, Gone()))),
        st.tuples(addresses(), children).map(lambda e: (("@", e[0]), e[1])),  # an address as the key
        st.tuples(st.just("emailOptIn"), st.booleans().map(lambda b: (b, b))),
    )

    def build(entries: list[tuple[Any, tuple[Any, Any]]]) -> tuple[Any, Any]:
        body: dict[str, Any] = {}
        expected: dict[Any, Any] = {}
        for n, (key, (value, want)) in enumerate(entries):
            if isinstance(key, tuple):
                key, marker = key[1], AddressKey(n)
            else:
                marker = key
            if key in body:
                continue
            body[key] = value
            expected[marker] = want
        return body, expected

    lists = st.lists(children, max_size=4).map(lambda xs: ([b for b, _ in xs], [e for _, e in xs]))
    return st.one_of(lists, st.lists(entry, max_size=5).map(build))


TREES = st.recursive(st.one_of(HARMLESS_LEAF, PLANTED_LEAF), _containers, max_leaves=25)
BODIES = _containers(TREES).filter(lambda t: isinstance(t[0], dict))


def _check(out: Any, want: Any, path: str = "$") -> None:
    if isinstance(want, Planted):
        assert MARK not in json.dumps(out, ensure_ascii=False).lower(), path
    elif isinstance(want, Gone):
        assert out == REDACTED, (path, out)
    elif isinstance(want, Around):
        assert isinstance(out, str) and out.startswith(want.before + " "), (path, out)
        assert want.after is None or out.endswith(" " + want.after), (path, out)
    elif isinstance(want, dict):
        assert isinstance(out, dict) and len(out) == len(want), (path, out)
        for (k, v), (wk, wv) in zip(out.items(), want.items(), strict=True):  # order kept
            if isinstance(wk, AddressKey):
                assert k == REDACTED or k.startswith("[redacted-"), (path, k)
            else:
                assert k == wk, (path, k)
            _check(v, wv, f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(out, list) and len(out) == len(want), (path, out)
        for i, (v, wv) in enumerate(zip(out, want, strict=True)):
            _check(v, wv, f"{path}[{i}]")
    else:
        assert out == want and type(out) is type(want), (path, out, want)


@settings(max_examples=400, deadline=None)
@given(tree=BODIES)
def test_planted_secrets_never_survive_and_the_rest_does(tree: tuple[dict[str, Any], Any]) -> None:
    body, want = tree
    before = json.dumps(body)
    out = redact("ga4/any.json", body)
    assert json.dumps(body) == before  # the input is untouched
    for text in (json.dumps(out, ensure_ascii=False), json.dumps(out)):  # as written, and as escaped
        assert MARK not in text.lower()
    assert json.loads(json.dumps(out)) == out  # still JSON: string keys, unique, serialisable
    _check(out, want)
    assert redact("ga4/any.json", out) == out  # idempotent: a recording re-redacted stays the same


# -- the manifest: recording again merges -------------------------------------------------------------------------

RUN_1 = {"recorded_at": "2026-01-01T00:00:00Z", "tool": {"name": "auditor", "version": "1"},
         "api_versions": {"ga4_admin": "v1beta"}, "calls": {"ga4": 10}}
RUN_2 = {"recorded_at": "2026-02-01T00:00:00Z", "tool": {"name": "auditor", "version": "2"},
         "api_versions": {"ga4_admin": "v1beta", "google_ads": "v26"}, "calls": {"ga4": 5, "ads": 3}}
PARTIAL = {"name": "fieldnotes", "property": "1", "customer": None, "status": "incomplete", "profile": None,
           "files": ["ga4/events.json"], "missing": {"ga4/data_retention.json": "permission denied"}}
KEYSTONE = {"name": "keystone", "property": "2", "customer": "3", "status": "recorded", "profile": "lead-gen",
            "files": ["ga4/events.json", "ads/conversion_actions.json"]}


def _write(tmp_path: Path, manifest: dict[str, Any]) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


def test_merge_keeps_earlier_partial_clients(tmp_path: Path) -> None:
    first = merge_manifest(None, RUN_1, [PARTIAL, KEYSTONE])
    assert [c["run"] for c in first["clients"]] == [1, 1] and first["recorded_at"] == RUN_1["recorded_at"]
    northwind = {**KEYSTONE, "name": "northwind"}
    keystone_again = {**KEYSTONE, "files": ["ga4/events.json"]}
    second = merge_manifest(first, RUN_2, [keystone_again, northwind])
    by_name = {c["name"]: c for c in second["clients"]}
    assert list(by_name) == ["fieldnotes", "keystone", "northwind"]  # earlier order, then the new clients
    assert by_name["fieldnotes"] == {**PARTIAL, "run": 1, "recorded_at": RUN_1["recorded_at"]}
    assert by_name["keystone"] == {**keystone_again, "run": 2, "recorded_at": RUN_2["recorded_at"]}
    assert by_name["northwind"]["run"] == 2
    # the top level is the latest run; the earlier run stays described while an entry refers to it
    assert {k: second[k] for k in RUN_2} == RUN_2
    assert second["runs"] == [{"run": 1, **RUN_1}, {"run": 2, **RUN_2}]
    assert recorded_missing(_write(tmp_path, second)) == {"fieldnotes": PARTIAL["missing"]}
    # once every client of run 1 is recorded again, run 1 is dropped from the history
    third = merge_manifest(second, RUN_1, [{**PARTIAL, "status": "recorded", "missing": None}])
    assert [r["run"] for r in third["runs"]] == [2, 3]
    assert recorded_missing(_write(tmp_path, third)) == {}


def test_merge_keeps_earlier_data_when_the_client_errors_now() -> None:
    first = merge_manifest(None, RUN_1, [PARTIAL])
    error = {"name": "fieldnotes", "property": "1", "customer": None, "status": "error", "errors": ["denied"]}
    second = merge_manifest(first, RUN_2, [error])
    (entry,) = second["clients"]
    # the folder on disk is still run 1's partial recording: say so, and what went wrong since
    assert {k: entry[k] for k in ("status", "missing", "run")} == {"status": "incomplete",
                                                                    "missing": PARTIAL["missing"], "run": 1}
    assert entry["latest_attempt"] == {"run": 2, "recorded_at": RUN_2["recorded_at"], "status": "error",
                                       "errors": ["denied"]}
    assert [r["run"] for r in second["runs"]] == [1, 2]
    # a client that never had data is replaced by its new error
    third = merge_manifest(merge_manifest(None, RUN_1, [error]), RUN_2, [error])
    assert third["clients"] == [{**error, "run": 2, "recorded_at": RUN_2["recorded_at"]}]


def test_merge_into_a_manifest_written_before_runs_were_numbered() -> None:
    legacy = {**RUN_1, "clients": [PARTIAL, KEYSTONE]}
    merged = merge_manifest(legacy, RUN_2, [KEYSTONE])
    fieldnotes = merged["clients"][0]
    assert fieldnotes["run"] == 1 and fieldnotes["recorded_at"] == RUN_1["recorded_at"]
    assert fieldnotes["missing"] == PARTIAL["missing"]
    assert merged["runs"] == [{"run": 1, **RUN_1}, {"run": 2, **RUN_2}]


def test_guard_before_a_folder_is_swapped() -> None:
    """Written before a partial client's folder replaces the old one: whichever folder an interrupted run leaves,
    the manifest lists at least what it lacks."""
    earlier = merge_manifest(None, RUN_1, [PARTIAL, KEYSTONE])
    assert guard_entry(earlier, "keystone", {}) is None  # complete now: the manifest can only be too strict
    assert guard_entry(earlier, "fieldnotes", {"ga4/data_retention.json": "again"}) is None  # already listed
    guard = guard_entry(earlier, "keystone", {"ga4/funnels.json": "denied"})
    assert guard is not None and guard["missing"] == {"ga4/funnels.json": "denied"}
    guard = guard_entry(earlier, "fieldnotes", {"ga4/funnels.json": "denied"})
    assert guard is not None and list(guard["missing"]) == ["ga4/data_retention.json", "ga4/funnels.json"]
    assert guard_entry(None, "new", {"ga4/funnels.json": "denied"}) is not None  # no entry: would pass offline


def test_an_unreadable_manifest_stops_the_recording(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) is None
    (tmp_path / "manifest.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the earlier recording's manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a recording manifest"):
        read_manifest(tmp_path)


def test_live_error_lines_are_scrubbed_like_recordings_but_name_the_service_account() -> None:
    from auditor.live import scrub as scrub_line
    from auditor.live import slug

    line = ("permission denied for jane.doe@example.com (jane%40example.com) and "
            "auditor@proj.iam.gserviceaccount.com; Authorization: Bearer ya29.a0AfH6SMBx")
    out = scrub_line(line)
    assert "jane" not in out and "ya29" not in out and "auditor@proj.iam.gserviceaccount.com" in out
    assert slug("Jane Doe <jane@doe.example> Ltd") == "jane-doe-ltd"  # an address never becomes a folder name
