"""YAML the user writes (config, suppressions, client.yaml), read strictly.

PyYAML keeps the last of two equal keys silently, so a rule overridden twice or a threshold set twice would take
whichever came last; here a duplicate key is an error naming its line. libyaml's parser is used when present
(about ten times faster); a document nested deeper than the parser can follow is an error too, never a crash.
"""

from __future__ import annotations

from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictYAMLError(yaml.YAMLError):
    """A duplicate key or a document too deeply nested; `problem_mark` gives the line when known."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base constructor reports it
                break
            if duplicate:
                raise StrictYAMLError(f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """One YAML document, safely and strictly. Raises yaml.YAMLError (StrictYAMLError for our own checks)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise StrictYAMLError("nested too deeply") from None
