"""The user's config file (`--config`): rule overrides, taxonomy additions, clients, outputs, history, email.

Validated with pydantic; every error is one line naming the file, the line and the key. Secrets never live
here: the SMTP password is read from the environment variable the file names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from auditor import yaml_strict
from auditor.conventions import FailLevel, Format
from auditor.errors import ConfigError, suggest

Severity = Literal["critical", "high", "medium", "low", "info"]
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
# what a value that fails a pattern should look like, by key: never the raw regular expression
_PATTERNS = {"name": "letters, digits, '.', '_' and '-', starting with a letter or a digit",
             "docs_url": "an http:// or https:// URL (or a docs/ path) without spaces"}


def check_address(v: str) -> str:
    """Plain mailbox addresses only: no display names, no lists in one string, no header-breaking characters."""
    if not _ADDRESS.match(v):
        raise ValueError("expected a plain e-mail address such as owner@example.com")
    return v


Address = Annotated[str, AfterValidator(check_address)]


class _Strict(BaseModel):
    # NaN and infinities are never a threshold or a value anyone meant (YAML reads .nan and .inf as floats)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RuleOverride(_Strict):
    enabled: bool | None = None
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class StrengthThresholds(_Strict):
    """Rates (macro users / micro users) at which the classes begin; omitted ones keep the taxonomy's."""

    very_high: float | None = Field(default=None, gt=0, le=1)
    high: float | None = Field(default=None, gt=0, le=1)
    medium: float | None = Field(default=None, gt=0, le=1)


class TaxonomyAdditions(_Strict):
    """The user's word on event names: wins over the taxonomy, the profile and the account's data."""

    macro_events: list[str] = Field(default_factory=list)
    strong_micro_events: list[str] = Field(default_factory=list)  # at least medium, never weak
    weak_micro_events: list[str] = Field(default_factory=list)  # always low
    synonyms: list[list[str]] = Field(default_factory=list)
    placeholder_values: list[float] | None = None  # replaces the taxonomy's list (default [0, 1])
    strength_thresholds: StrengthThresholds | None = None

    @model_validator(mode="after")
    def _one_word_per_name(self) -> TaxonomyAdditions:
        lists = {"macro_events": self.macro_events, "strong_micro_events": self.strong_micro_events,
                 "weak_micro_events": self.weak_micro_events}
        seen: dict[str, str] = {}
        for key, names in lists.items():
            for n in names:
                if n in seen and seen[n] != key:
                    raise ValueError(f"{n!r} is listed under both {seen[n]} and {key}")
                seen[n] = key
        return self

    @property
    def thresholds(self) -> dict[str, float]:
        t = self.strength_thresholds
        return {k: v for k, v in (t.model_dump() if t else {}).items() if v is not None}


def _digits(v: Any, what: str, size: int | None = None) -> str | None:
    if v is None:
        return None
    s = re.sub(r"[\s-]", "", str(v))
    s = s.removeprefix("properties/").removeprefix("customers/")
    if not s.isdigit() or (size and len(s) != size):
        raise ValueError(f"{what} must be {'a ' + str(size) + '-digit' if size else 'a numeric'} id, got {v!r}")
    return s


class ClientTarget(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    property: str | None = None  # GA4 property id
    customer: str | None = None  # Google Ads customer id, 10 digits (dashes allowed)
    profile: str | None = None
    recipients: list[Address] = Field(default_factory=list)  # account owners: get this client's report by e-mail
    funnel: list[str] | None = None  # the client's own funnel ladder (event names) instead of the profile's

    @field_validator("property", mode="before")
    @classmethod
    def _property(cls, v: Any) -> str | None:
        return _digits(v, "property")

    @field_validator("customer", mode="before")
    @classmethod
    def _customer(cls, v: Any) -> str | None:
        return _digits(v, "customer", 10)


class OutputSettings(_Strict):
    dir: str = "reports"  # relative paths in this file resolve against the config file's folder
    formats: list[Format] = Field(default_factory=lambda: ["json", "html", "csv"])  # json is always written


class HistorySettings(_Strict):
    path: str | None = None  # default: <output.dir>/history.sqlite
    enabled: bool = True
    keep_runs: int | None = Field(default=None, ge=1)  # prune older runs; None keeps every run


class EmailSettings(_Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None  # the NAME of the environment variable holding the password, not the password
    ca_file: str | None = None  # extra CA bundle for a relay with a private certificate
    sender: Address
    summary_to: list[Address] = Field(default_factory=list)  # the agency lead: gets the summary of every client
    subject_prefix: str = "[auditor]"
    when: Literal["always", "change", "failure"] = "always"  # --email-on overrides
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("password_env", mode="before")
    @classmethod
    def _env_name(cls, v: Any) -> Any:
        # A value that does not look like a variable name may be the password itself: never echo it back.
        if v is not None and (not isinstance(v, str) or not _ENV_NAME.match(v)):
            raise ValueError("expected the NAME of an environment variable (upper-case letters, digits and "
                             "underscores, such as SMTP_PASSWORD), not the password; the value is not shown")
        return v

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true: accept it as `when:`
        if isinstance(data, dict) and True in data and "when" not in data:
            data = {("when" if k is True else k): v for k, v in data.items()}
        return data


class ReportSettings(_Strict):
    """Branding of the client-facing reports (HTML, PDF, e-mail) and where findings link for help."""

    agency_name: str | None = Field(default=None, max_length=120)
    logo: str | None = None  # an https:// URL, or a PNG/JPEG/SVG file (relative to this file) embedded in the report
    accent_color: str | None = None  # e.g. "#0b5fff"
    # base of each finding's help_url (a finding links to <docs_url>#<rule-id>); default: the catalogue shipped
    # with the project, docs/rules.md
    docs_url: str | None = Field(default=None, pattern=r"^(https?://|docs/)\S+$")

    @field_validator("accent_color", mode="before")
    @classmethod
    def _colour(cls, v: Any) -> Any:
        if v is not None and (not isinstance(v, str) or not _COLOUR.match(v)):
            raise ValueError("expected a colour like #1a73e8 (# and six hexadecimal digits)")
        return v


class WebhookSettings(_Strict):
    """A chat or HTTP endpoint told about each agency run. The URL is a secret (it authorises posting), so the
    file names the environment variable that holds it."""

    url_env: str
    format: Literal["slack", "json"] = "slack"
    when: Literal["always", "change", "failure"] = "always"
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("url_env", mode="before")
    @classmethod
    def _env_name(cls, v: Any) -> Any:
        if not isinstance(v, str) or not _ENV_NAME.match(v):
            raise ValueError("expected the NAME of an environment variable holding the URL (such as "
                             "SLACK_WEBHOOK_URL), not the URL; the value is not shown")
        url = os.environ.get(v)
        if url is not None and unsafe_url(url):
            # a tab or line break is dropped by URL parsers, so the URL posted to and the one masked in the log
            # would differ: refused before anything runs
            raise ValueError(f"the environment variable {v} holds a URL with a control character or a space "
                             "(a tab, CR or LF, say); the value is not shown")
        return v


def unsafe_url(value: str) -> bool:
    """Whether a URL (surrounding spaces aside) holds a control character, a space or another character that is
    not printable: nothing a webhook URL may hold."""
    return any(not ch.isprintable() or ch.isspace() for ch in value.strip(" "))


# Google Ads operations a day by the access level of the credentials' Google Cloud project (one query is one
# operation, streamed or paged). Test reaches test accounts only; Standard has no daily limit.
ADS_ACCESS_LEVELS: dict[str, int | None] = {"explorer": 2_880, "basic": 15_000, "standard": None}


class AdsOptions(_Strict):
    """Google Ads: the daily operation budget a run may spend (None: no budget, every client is audited)."""

    daily_operations: int | None = Field(default=None, gt=0)

    @field_validator("daily_operations", mode="before")
    @classmethod
    def _level(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("expected a number of operations a day or an access level")
        if isinstance(v, str) and not v.strip().isdigit():
            level = v.strip().lower()
            if level in ADS_ACCESS_LEVELS:
                return ADS_ACCESS_LEVELS[level]
            if level == "test":
                raise ValueError("the Test access level reaches test accounts only; apply for Explorer access "
                                 "(Cloud console > Google Ads API overview > Explorer access)")
            raise ValueError("expected a number of operations a day (such as 2880) or an access level: explorer "
                             "(2,880), basic (15,000) or standard (no limit)")
        return v


class Defaults(_Strict):
    """Applied to every client of an agency run unless the client or the command line says otherwise."""

    profile: str | None = None
    fail_on: FailLevel | None = None
    min_score: int | None = Field(default=None, ge=0, le=100)


class UserConfig(_Strict):
    profile: str | None = None  # default profile for clients without one
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    taxonomy: TaxonomyAdditions = Field(default_factory=TaxonomyAdditions)
    clients: list[ClientTarget] = Field(default_factory=list)
    output: OutputSettings = Field(default_factory=OutputSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    email: EmailSettings | None = None
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    report: ReportSettings = Field(default_factory=ReportSettings)
    suppressions: str | None = None  # path of the suppressions file, relative to this file
    select: list[str] | None = None  # rule ids or categories to run (ALL: every rule); --select replaces it
    ignore: list[str] = Field(default_factory=list)  # rule ids or categories to skip; --ignore adds to it
    defaults: Defaults = Field(default_factory=Defaults)
    ads: AdsOptions = Field(default_factory=AdsOptions)


def resolve_path(base: Path, value: str | None) -> Path | None:
    """A path from a config file: relative paths resolve against the file's folder, so cron's cwd is irrelevant."""
    if value is None:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(base / p))


def read_yaml_mapping(path: Path, what: str, shape: str = "a mapping") -> tuple[dict[str, Any], str]:
    """A YAML file whose top level is a mapping, and its text (for line numbers). ConfigError otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read {what}: {e}") from None
    try:
        data = yaml_strict.load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected {shape} at the top level")
    return data, text


def _read_pyproject(path: Path) -> tuple[dict[str, Any], str]:
    """The `[tool.auditor]` table of a pyproject.toml, and the file's text."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    table = (data.get("tool") or {}).get("auditor")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a [tool.auditor] table")
    return table, ""  # TOML carries no line numbers the YAML locator could use


def load_config(path: str | Path) -> tuple[UserConfig, Path]:
    """Read and validate a config file (YAML, or a pyproject.toml's [tool.auditor] table). Raises ConfigError
    naming file, line and key."""
    p = Path(path)
    if p.name == "pyproject.toml":
        data, text = _read_pyproject(p)
    else:
        data, text = read_yaml_mapping(p, "config", "a mapping of settings")
    try:
        cfg = UserConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(validation_message(p, text, e, UserConfig)) from None
    names = [c.name for c in cfg.clients]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{p}: {_line(text, ('clients',))}clients: duplicate client name {dupes[0]!r}")
    return cfg, p


def config_error(path: Path, text_loc: tuple[Any, ...], message: str) -> ConfigError:
    """A ConfigError for a semantic check done after validation (unknown rule id, bad param...)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = ""
    return ConfigError(f"{path}: {_line(text, text_loc)}{_dotted(text_loc)}: {message}")


def validation_message(path: Path, text: str, e: ValidationError, model: type[BaseModel]) -> str:
    """'FILE: line N: key.path: message' for the first error of a pydantic validation of a YAML file."""
    err = e.errors()[0]
    loc = tuple(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key" + suggest(str(loc[-1]), _fields_at(model, loc[:-1]))
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"] == "string_pattern_mismatch":
        msg = f"expected {_PATTERNS.get(str(loc[-1]), 'another form of value')}"
    return f"{path}: {_line(text, loc)}{_dotted(loc)}: {msg}"


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    found = _position(text, loc)
    return found[0] if found else None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    cur: Any = model
    for part in loc:
        if isinstance(part, int) or cur is None:
            continue
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        cur = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)),
                   None)
    return list(getattr(cur, "model_fields", {})) if cur else []


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line(text: str, loc: tuple[Any, ...]) -> str:
    """'line N, column C: ' of the deepest node of `loc` found in the YAML text (a key where the error is about
    a key's value: the line a reader looks for), or '' if it cannot be located."""
    found = _position(text, loc)
    return f"line {found[0]}, column {found[1]}: " if found else ""


def _position(text: str, loc: tuple[Any, ...]) -> tuple[int, int] | None:
    """(line, column), both from 1, of the deepest node of `loc` in the YAML text; None if it cannot be found."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    mark = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if nxt is None:
                break
            mark, node = nxt[0].start_mark, nxt[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return (mark.line + 1, mark.column + 1) if mark is not None else None
