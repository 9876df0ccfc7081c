"""The rule packs in rules/ (default ruleset, taxonomy, profiles) merged with a user config.

Order of precedence: a rule's own defaults < rules/default.yaml < the client's profile < the user config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from auditor.business_model import ProfileChoice, infer_profile
from auditor.engine import SEVERITIES, Rule, RuleSetting, registry
from auditor.errors import ConfigError, suggest
from auditor.model import Client
from auditor.taxonomy import Taxonomy

if TYPE_CHECKING:
    from auditor.config import UserConfig

DEFAULT_PROFILE = "ecommerce"
ALL = "ALL"  # --select ALL / ignore: [ALL]: every rule, as in ruff

try:  # libyaml's loader is ~10x faster; fall back to the pure-Python one
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


def rules_dir() -> Path:
    """rules/ travels inside the wheel as auditor/rules; in a source checkout it sits beside auditor/."""
    here = Path(__file__).resolve().parent
    packaged = here / "rules"
    return packaged if packaged.is_dir() else here.parent / "rules"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read rule pack: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return data


def profile_names() -> list[str]:
    return sorted(p.stem for p in (rules_dir() / "profiles").glob("*.yaml"))


@dataclass
class Ruleset:
    """Everything needed to audit any client: resolved once per run, shared by all clients."""

    rules: dict[str, Rule]
    base: dict[str, dict[str, Any]]  # rules/default.yaml "rules"
    taxonomy_base: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    user: UserConfig | None = None
    user_path: Path | None = None
    default_profile: str = DEFAULT_PROFILE
    configured_profile: str | None = None  # set for the run (--profile, config profile/defaults.profile)
    chosen: frozenset[str] | None = None  # rule ids kept by --select/--ignore; None: every rule
    selected: tuple[str, ...] = ()  # the run's rule selection as given (--select, else the config's select:)
    ignored: tuple[str, ...] = ()  # ... and what it ignores (the config's ignore: and --ignore)
    _cache: dict[str, tuple[Taxonomy, dict[str, RuleSetting]]] = field(default_factory=dict)
    _macro_names: frozenset[str] | None = None
    _macro_categories: frozenset[str] = frozenset()

    @classmethod
    def load(cls, user: UserConfig | None = None, user_path: Path | None = None,
             profile: str | None = None) -> Ruleset:
        root = rules_dir()
        base = _read(root / "default.yaml").get("rules") or {}
        profiles = {p.stem: _read(p) for p in sorted((root / "profiles").glob("*.yaml"))}
        rs = cls(rules=registry(), base=base, taxonomy_base=_read(root / "taxonomy.yaml"), profiles=profiles,
                 user=user, user_path=user_path)
        rs.configured_profile = profile or (user.profile or user.defaults.profile if user else None)
        rs.default_profile = rs.configured_profile or DEFAULT_PROFILE
        rs.validate()
        return rs

    @property
    def docs_url(self) -> str | None:
        """The base of every finding's help_url (the config's `report.docs_url`), None for the default."""
        return self.user.report.docs_url if self.user else None

    def select(self, select: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> None:
        """Keep the rules named by `select` (rule ids or categories, or ALL; all when empty) minus those named by
        `ignore`, as ruff does. An unknown name is a configuration error, with the closest names."""
        known = {*self.rules, *(r.category for r in self.rules.values()), ALL}
        for opt, names in (("--select", select), ("--ignore", ignore)):
            for n in names:
                if n not in known:
                    raise ConfigError(f"{opt}: unknown rule or category {n!r}{suggest(n, sorted(known))}")

        def named(rid: str, names: tuple[str, ...]) -> bool:
            return ALL in names or rid in names or self.rules[rid].category in names

        self.selected, self.ignored = tuple(select), tuple(ignore)
        self.chosen = frozenset(rid for rid in self.rules
                                if (not select or named(rid, select)) and not named(rid, ignore))

    def choose(self, select: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> None:
        """The run's rule selection, layered as ruff layers it: the config's `select:` and `ignore:`, then the
        command line's (--select replaces the config's select; --ignore adds to its ignore). A name the config
        does not know is an error naming the file, line and key."""
        cfg_select = tuple(self.user.select or ()) if self.user else ()
        cfg_ignore = tuple(self.user.ignore) if self.user else ()
        if self.user and self.user_path:
            from auditor.config import config_error

            known = {*self.rules, *(r.category for r in self.rules.values()), ALL}
            for key, names in (("select", cfg_select), ("ignore", cfg_ignore)):
                for i, n in enumerate(names):
                    if n not in known:
                        raise config_error(self.user_path, (key, i),
                                           f"unknown rule or category {n!r}{suggest(n, sorted(known))}")
        chosen_select = select or cfg_select
        chosen_ignore = tuple(dict.fromkeys((*cfg_ignore, *ignore)))
        if chosen_select or chosen_ignore:
            self.select(chosen_select, chosen_ignore)

    def shipped(self, profile: str) -> frozenset[str]:
        """The rules a full audit of a client of this profile runs: enabled by rules/default.yaml and the profile
        (the config's own `enabled:` aside). A run that leaves one of them out scores partially."""
        prof = self.profiles.get(profile, {})
        out = set()
        for rid in self.rules:
            enabled = True
            for layer in (self.base.get(rid) or {}, (prof.get("rules") or {}).get(rid) or {}):
                enabled = layer.get("enabled", enabled)
            if enabled:
                out.add(rid)
        return frozenset(out)

    def runs(self, rid: str) -> bool:
        """Whether the run's selection (--select/--ignore) keeps this rule."""
        return self.chosen is None or rid in self.chosen

    def _where(self) -> str:
        return str(self.user_path) if self.user_path else "config"

    def validate(self) -> None:
        """Unknown rule ids, params or profiles are configuration errors, caught before any client is audited."""
        ids = list(self.rules)
        for rid, setting in self.base.items():
            self._check_override(rid, setting.get("params") or {}, "rules/default.yaml")
        for pname, prof in self.profiles.items():
            for rid, setting in (prof.get("rules") or {}).items():
                self._check_override(rid, (setting or {}).get("params") or {}, f"rules/profiles/{pname}.yaml")
        self.check_profile(self.default_profile, "--profile" if not self.user else f"{self._where()}: profile")
        if self.user:
            for rid, o in self.user.rules.items():
                if rid not in self.rules:
                    raise ConfigError(f"{self._where()}: rules.{rid}: unknown rule id{suggest(rid, ids)}")
                self._check_override(rid, o.params, f"{self._where()}: rules.{rid}")
            for c in self.user.clients:
                if c.profile:
                    self.check_profile(c.profile, f"{self._where()}: clients.{c.name}.profile")
        self.for_profile(self.default_profile)  # a bad taxonomy in the config fails before any client
        for rid, rule in self.rules.items():
            missing = [k for k in rule.params if self._params(rid, None, DEFAULT_PROFILE).get(k) is None]
            if missing:
                raise ConfigError(f"rule {rid}: parameter {missing[0]!r} has no value in any ruleset")

    def _check_override(self, rid: str, params: dict[str, Any], where: str) -> None:
        rule = self.rules.get(rid)
        if rule is None:  # a pack may mention a plugin that is not installed: harmless
            return
        for k, v in params.items():
            if k not in rule.params:
                raise ConfigError(f"{where}: params.{k}: unknown parameter of {rid}{suggest(k, list(rule.params))}")
            if not _finite(v):  # YAML reads .nan and .inf as floats; no threshold means either
                raise ConfigError(f"{where}: params.{k}: expected finite numbers, got {v!r}")
            default = self._base_param(rid, k)
            if default is not None and not _same_type(default, v):
                raise ConfigError(f"{where}: params.{k}: expected {type(default).__name__}, got {v!r}")

    def check_profile(self, name: str, where: str) -> None:
        if name not in self.profiles:
                raise ConfigError(f"{where}: unknown profile {name!r}{suggest(name, list(self.profiles))}; "
                              f"choose from {', '.join(self.profiles)}")

    def _base_param(self, rid: str, key: str) -> Any:
        v = ((self.base.get(rid) or {}).get("params") or {}).get(key)
        return v if v is not None else self.rules[rid].params[key].default

    def _params(self, rid: str, override: Any, profile: str) -> dict[str, Any]:
        rule = self.rules[rid]
        params = {k: p.default for k, p in rule.params.items()}
        params.update((self.base.get(rid) or {}).get("params") or {})
        params.update(((self.profiles.get(profile, {}).get("rules") or {}).get(rid) or {}).get("params") or {})
        if override is not None:
            params.update(override.params)
        return params

    def for_profile(self, profile: str) -> tuple[Taxonomy, dict[str, RuleSetting]]:
        """Taxonomy and effective rule settings of one profile (cached: clients share them)."""
        hit = self._cache.get(profile)
        if hit:
            return hit
        prof = self.profiles[profile]
        try:
            taxonomy = Taxonomy.build(self.taxonomy_base, prof, self.user.taxonomy if self.user else None)
        except ValueError as e:  # thresholds out of order after merging the config's with the taxonomy's
            raise ConfigError(f"{self._where()}: taxonomy.strength_thresholds: {e}") from None
        settings: dict[str, RuleSetting] = {}
        for rid, rule in self.rules.items():
            layers = [self.base.get(rid) or {}, (prof.get("rules") or {}).get(rid) or {}]
            override = self.user.rules.get(rid) if self.user else None
            enabled, severity = True, rule.severity
            for layer in layers:
                enabled = layer.get("enabled", enabled)
                severity = layer.get("severity", severity)
            if override is not None:
                enabled = override.enabled if override.enabled is not None else enabled
                severity = override.severity or severity
            if severity not in SEVERITIES:
                raise ConfigError(f"rule {rid}: unknown severity {severity!r}")
            settings[rid] = RuleSetting(enabled=bool(enabled), severity=severity,
                                        params=self._params(rid, override, profile))
        self._cache[profile] = (taxonomy, settings)
        return taxonomy, settings

    def choose_profile(self, client: Client, own: str | None) -> ProfileChoice:
        """The profile a client is audited with: its own, the run's, else the one its data points to."""
        if own:
            return ProfileChoice(own, "client")
        if self.configured_profile:
            return ProfileChoice(self.configured_profile, "config")
        if self._macro_names is None:
            tax = [self.for_profile(p)[0] for p in self.profiles]
            self._macro_names = frozenset().union(*(t.macro for t in tax), *(t.config_macro for t in tax))
            self._macro_categories = frozenset().union(*(t.macro_categories for t in tax))
        base = self.for_profile(DEFAULT_PROFILE)[0]
        return infer_profile(client, self.profiles, self._macro_names, self._macro_categories, DEFAULT_PROFILE,
                             lambda a: base.returning_verdict(a.ga4_event_name, a.name) is not None)


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))
