"""Everything an agency run needs, resolved once before anything is audited: the config (given, or discovered as
`audit` discovers it), its paths made absolute, the command line's overrides, the ruleset with the rule
selection, the suppressions and the delivery channels. Every problem here is a ConfigError (exit 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.config import UserConfig, resolve_path
from auditor.errors import ConfigError
from auditor.outputs.channels import Channel, ChannelOptions, configured_channels
from auditor.outputs.options import Branding, RenderOptions, branding_of
from auditor.ruleset import Ruleset
from auditor.suppressions import Suppressions, load_suppressions


@dataclass
class Settings:
    """Config values with paths made absolute, then the command line's overrides."""

    cfg: UserConfig
    config_path: Path | None
    ruleset: Ruleset
    out_dir: Path
    formats: list[str]
    history_path: Path | None
    keep_runs: int | None
    suppressions: Suppressions
    channels: list[Channel]
    fail_on: str
    min_score: int | None
    branding: Branding = field(default_factory=Branding)
    offline: Path | None = None
    shard: tuple[int, int] | None = None
    jobs: int = 4
    ga4_credentials: str | None = None  # live: as `audit --ga4-credentials`
    ads_config: str | None = None  # live: as `audit --ads-config`
    live: Any = None  # live: the auditor.live.Live session of this run

    @property
    def render_options(self) -> RenderOptions:
        """How each client's reports are rendered: one client per document, in the agency's branding."""
        return RenderOptions(single=True, branding=self.branding)


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise ConfigError(f"--shard: expected K/N with 1 <= K <= N (for example 2/4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def load_settings(config: str | Path | None, *, offline: Path | None = None, output: str | None = None,
                  history: str | None = None, no_history: bool = False, suppressions: str | None = None,
                  shard: str | None = None, email_on: str | None = None, no_email: bool = False,
                  fail_on: str | None = None, min_score: int | None = None, profile: str | None = None,
                  select: tuple[str, ...] = (), ignore: tuple[str, ...] = (), jobs: int = 4, merging: bool = False,
                  ga4_credentials: str | None = None, ads_config: str | None = None) -> Settings:
    """Config file (--config, else the working directory's .auditor.yaml or pyproject.toml) + command line ->
    Settings. Raises ConfigError (exit 2) before anything is audited."""
    from auditor.discovery import discover_config

    path = Path(config) if config else discover_config()  # as `audit` finds its config
    if path is not None:
        from auditor.config import load_config

        cfg, cfg_path = load_config(path)
        base = cfg_path.resolve().parent
    else:
        cfg, cfg_path, base = UserConfig(), None, Path.cwd()
    # agency runs: defaults.profile wins over the config's top-level profile (docs/agency.md)
    ruleset = Ruleset.load(cfg, cfg_path, profile or cfg.defaults.profile)
    ruleset.choose(select, ignore)  # the config's select:/ignore:, then the command line's, as `audit` layers them
    out_dir = Path(output).expanduser() if output else resolve_path(base, cfg.output.dir)
    assert out_dir is not None
    formats = list(dict.fromkeys(["json", *cfg.output.formats]))  # JSON is the canonical result: always
    if "pdf" in formats and not merging:
        from auditor.outputs.formats.pdf import require_engine

        require_engine()  # exit 2 with what to install, before anything is audited
    history_path = None
    if history:
        history_path = Path(history).expanduser()
    elif cfg.history.enabled:
        history_path = resolve_path(base, cfg.history.path) or out_dir / "history.sqlite"
    if no_history:
        history_path = None
    sup_path = Path(suppressions).expanduser() if suppressions else resolve_path(base, cfg.suppressions)
    sups = load_suppressions(sup_path, list(ruleset.rules)) if sup_path and not merging else Suppressions.empty()
    shard_t = parse_shard(shard) if shard else None
    channels = configured_channels(cfg, cfg_path, ChannelOptions(email_on, no_email, deliver=shard_t is None))
    return Settings(cfg=cfg, config_path=cfg_path, ruleset=ruleset, out_dir=out_dir, formats=formats,
                    history_path=history_path, keep_runs=cfg.history.keep_runs, suppressions=sups,
                    channels=channels, fail_on=fail_on or cfg.defaults.fail_on or "low",
                    min_score=min_score if min_score is not None else cfg.defaults.min_score,
                    branding=branding_of(cfg, cfg_path), offline=offline,
                    shard=shard_t, jobs=jobs, ga4_credentials=ga4_credentials, ads_config=ads_config)
