"""How a document is rendered, beside what it contains: terminal width and colour, branding, the docs link."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Branding:
    """From the config's `report:` section: who sends the report and in which colour."""

    agency_name: str | None = None
    logo: str | None = None  # an https URL or a data: URI (a file is embedded when the config is read)
    accent_color: str | None = None


@dataclass(frozen=True, slots=True)
class RenderOptions:
    width: int = 80  # terminal columns; no line of the table format is wider
    color: bool = False  # severity colours (ANSI) in the table format
    branding: Branding = Branding()
    single: bool = False  # the document holds one client (no "all clients" summary block)


def rule_anchor(rule: str) -> str:
    """The id of a rule's entry in the appendix "About these checks" that every HTML, PDF and Markdown report
    carries: `rule-<id>`, of lower-case letters, digits and hyphens alone (a rule id is such a slug already; anything
    else is made one, so the id is safe in any attribute and any link)."""
    return "rule-" + (re.sub(r"[^a-z0-9-]+", "-", str(rule).lower()).strip("-") or "unnamed")


def help_url(rule: str, base: str | None = None) -> str:
    """Where a finding's rule is documented, for a file that travels: `<base>#<rule>` when the config's
    `report.docs_url` gives a base (an absolute URL works for anyone who receives the file), else the anchor of
    the rule's entry in the report's own appendix (`#rule-<id>`): every HTML, PDF and Markdown report explains the
    rules of its findings at its end, so the link works offline and in an e-mail attachment."""
    return f"{base}#{rule}" if base else "#" + rule_anchor(rule)


def terminal_width(stream: Any = None) -> int:
    """The terminal's columns: COLUMNS, else the size of the terminal `stream` is on (stdout by default), else 80
    (a pipe, cron). Never below 40."""
    import os
    import sys

    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return max(40, int(cols))
    try:
        return max(40, os.get_terminal_size((stream or sys.stdout).fileno()).columns or 80)
    except (AttributeError, OSError, ValueError):
        return 80


_LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_LOGO_MAX = 512 * 1024


def branding_of(user: Any, user_path: Path | None) -> Branding:
    """The config's `report:` section as Branding; a logo file is embedded as a data: URI so the report stays
    one self-contained file (and the PDF needs no network)."""
    if user is None:
        return Branding()
    rep = user.report
    logo = rep.logo
    if logo and not logo.startswith("https://"):
        from auditor.config import resolve_path
        from auditor.errors import ConfigError

        path = resolve_path(user_path.parent if user_path else Path.cwd(), logo)
        kind = _LOGO_TYPES.get(path.suffix.lower()) if path else None
        if path is None or kind is None:
            raise ConfigError(f"{user_path}: report.logo: expected an https:// URL or a .png, .jpg or .svg file")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ConfigError(f"{user_path}: report.logo: {path}: {e.strerror or e}") from None
        if len(data) > _LOGO_MAX:
            raise ConfigError(f"{user_path}: report.logo: {path} is larger than 512 KiB")
        import base64

        logo = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
    return Branding(agency_name=rep.agency_name, logo=logo, accent_color=rep.accent_color)
