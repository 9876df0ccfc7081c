"""Config files are read strictly: a duplicate key, a NaN threshold or a password where its variable's name
belongs is an error (exit 2) naming the file and line, and a secret is never echoed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.audit import read_client_settings
from auditor.config import load_config
from auditor.errors import ConfigError, FixtureError
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent


def cfg(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auditor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_duplicate_key_is_an_error_naming_its_line(tmp_path):
    path = cfg(tmp_path, "rules:\n  micro-primary-goal:\n    severity: low\n  micro-primary-goal:\n"
                         "    severity: critical\n")
    with pytest.raises(ConfigError,
                       match=r"auditor.yaml: line 4, column 3: invalid YAML: duplicate key 'micro-primary-goal'"):
        load_config(path)


@pytest.mark.parametrize("text, where", [
    ("taxonomy:\n  placeholder_values: [0, .nan]\n", "column 27: taxonomy.placeholder_values[1]"),
    ("taxonomy:\n  strength_thresholds: {medium: .inf}\n", "column 25: taxonomy.strength_thresholds.medium"),
])
def test_non_finite_numbers_are_errors(tmp_path, text, where):
    with pytest.raises(ConfigError, match=re.escape(f"line 2, {where}: Input should be a finite number")):
        load_config(cfg(tmp_path, text))


def test_a_non_finite_rule_threshold_is_an_error(tmp_path):
    c, path = load_config(cfg(tmp_path, "rules:\n  low-bidding-volume:\n    params: {proxy_min_volume: .nan}\n"))
    with pytest.raises(ConfigError, match="params.proxy_min_volume: expected finite numbers, got nan"):
        Ruleset.load(c, path)


@pytest.mark.parametrize("secret", ["hunter2", "S3cr3t!pass word", "p@ss"])
def test_a_password_where_its_variable_name_belongs_is_rejected_and_never_echoed(tmp_path, secret):
    text = f"email:\n  host: smtp.example.com\n  sender: a@example.com\n  password_env: '{secret}'\n"
    with pytest.raises(ConfigError) as e:
        load_config(cfg(tmp_path, text))
    assert "line 4, column 3: email.password_env: expected the NAME of an environment variable" in str(e.value)
    assert secret not in str(e.value)
    ok = text.replace(f"'{secret}'", "SMTP_PASSWORD")
    assert load_config(cfg(tmp_path, ok))[0].email.password_env == "SMTP_PASSWORD"


def test_client_yaml_is_strict_too(tmp_path):
    (tmp_path / "client.yaml").write_text("profile: lead-gen\nprofile: ecommerce\n", encoding="utf-8")
    with pytest.raises(FixtureError, match="duplicate key 'profile'"):
        read_client_settings(tmp_path)
    (tmp_path / "client.yaml").write_text("funnel: " + "[" * 20_000 + "]" * 20_000 + "\n", encoding="utf-8")
    with pytest.raises(FixtureError, match="nested too deeply|invalid|cannot read"):
        read_client_settings(tmp_path)


def test_a_deeply_nested_config_is_one_line_exit_2(tmp_path):
    path = cfg(tmp_path, "rules: " + "[" * 50_000 + "]" * 50_000 + "\n")
    p = subprocess.run([sys.executable, "-m", "auditor", "--config", str(path), "--offline", "fixtures"],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ}, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(f"audit: error: {path}: ") and "internal" not in p.stderr
