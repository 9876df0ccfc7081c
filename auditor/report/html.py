"""Jinja environment for the HTML report: autoescaping on, templates shipped in the package."""

from __future__ import annotations

import functools

from jinja2 import Environment, PackageLoader, select_autoescape

from auditor.business_model import profile_label
from auditor.funnel import funnel_caption, funnel_unit
from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("auditor.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["grade_colour"] = lambda g: {"A": "#1a7f37", "B": "#4c9a2a", "C": "#b58a00", "D": "#c4571b"}.get(
        g, "#b42318")
    env.globals["sev_colour"] = lambda s: {"critical": "#7a0916", "high": "#b42318", "medium": "#c4571b",
                                           "low": "#8a6d00", "info": "#475467"}.get(s, "#475467")
    env.globals["profile_label"] = profile_label
    env.globals["funnel_caption"] = funnel_caption
    env.globals["funnel_unit"] = funnel_unit
    env.globals["macro_line"] = macro_line
    env.globals["hierarchy_rows"] = hierarchy_rows
    env.globals["HIERARCHY_HEADERS"] = HIERARCHY_HEADERS
    return env
