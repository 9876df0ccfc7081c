"""Reading a result document from disk: parsed strictly, its version checked, validated against the published
JSON Schema (docs/result.schema.json), then built into typed results.

Every problem with the file is one printable line naming it (`ConfigError`, exit 2): a damaged, foreign or
too-new file is refused before anything is rendered, never half-read. jsonschema is imported only when a
document is validated: the plain `audit --offline` path never loads this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.result import SCHEMA_VERSION, ClientResult, Header
from auditor.text import printable

SCHEMA_NAME = "result.schema.json"
# An installed wheel carries the schema inside the package (force-include); a checkout has it in docs/.
_PACKAGED = Path(__file__).resolve().parent / SCHEMA_NAME
_REPOSITORY = Path(__file__).resolve().parent.parent / "docs" / SCHEMA_NAME
SCHEMA_PATH = _PACKAGED if _PACKAGED.is_file() else _REPOSITORY

_MAX_MESSAGE = 300  # characters of one error: jsonschema quotes the offending value, which may be huge


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema())


@lru_cache(maxsize=1)
def _client_validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema()
    return Draft202012Validator({"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/client"})


def validate_client(entry: Any) -> list[str]:
    """Every way one client entry (a result as the history stores it) departs from the result schema, save a
    missing member: older auditors stored fewer, and `ClientResult.from_json` reads an absent one as empty. A
    member of the wrong type or out of range is an error."""
    return [f"{json_path(e.absolute_path)}: {_short(e.message)}"
            for e in sorted(_client_validator().iter_errors(entry), key=_order) if e.validator != "required"]


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def json_path(path: Any) -> str:
    """deque(['clients', 2, 'findings', 0, 'severity']) -> 'clients[2].findings[0].severity' ('document' for
    the root)."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "document"


def _leaves(error: Any) -> Iterator[Any]:
    """A nullable member (`anyOf: [null, X]`) that is not null is reported by what is wrong inside X, not as
    'not valid under any of the given schemas'."""
    if error.validator == "anyOf" and error.context and error.instance is not None:
        branches = error.validator_value
        inner = [e for e in error.context if branches[e.relative_schema_path[0]] != {"type": "null"}]
        if inner:
            for e in inner:
                yield from _leaves(e)
            return
    yield error


def _order(error: Any) -> tuple[tuple[int, Any], ...]:
    # document order as far as the path tells (indices before names at one level never meet: a level is
    # either a list or an object)
    return tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in error.absolute_path)


def validate(doc: Any) -> list[str]:
    """Every way `doc` departs from the result schema, as 'clients[2].findings[0].severity: 'urgent' is not one
    of [...]', in document order; [] when it is valid."""
    errors = sorted((leaf for e in _validator().iter_errors(doc) for leaf in _leaves(e)), key=_order)
    out = []
    for e in errors:
        out.append(f"{json_path(e.absolute_path)}: {_short(e.message)}")
    return out


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys; which one a reader means is unknowable, so neither is trusted
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {printable(key)!r}")
        out[key] = value
    return out


def strict_loads(text: str | bytes) -> Any:
    """JSON as the result schema means it: no NaN or Infinity, no key twice in one object (ValueError)."""
    return json.loads(text, parse_constant=_not_json_constant, object_pairs_hook=_unique_keys)


def _refuse(path: str | Path, why: str) -> ConfigError:
    return ConfigError(printable(f"{path}: {why}"))


def _read(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8-sig") as fh:  # a byte order mark (some Windows editors) is no error
            # NaN and Infinity are not JSON; a key twice in one object is refused
            doc = json.load(fh, parse_constant=_not_json_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _refuse(path, "not an auditor JSON result (nested too deeply)") from None
    except UnicodeDecodeError:
        raise _refuse(path, "not an auditor JSON result (not UTF-8 text)") from None
    except OSError as e:
        raise _refuse(path, f"cannot read: {e.strerror or e}") from None
    except ValueError as e:  # json.JSONDecodeError included
        why = " ".join(str(e).split())[:200]
        raise _refuse(path, f"not an auditor JSON result (invalid JSON: {why})") from None
    if not isinstance(doc, dict):
        raise _refuse(path, f"not an auditor JSON result (a JSON {_kind(doc)}, not an object)")
    return doc


def _kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "null")


def load_document(path: str | Path) -> tuple[Header, list[ClientResult]]:
    """The header and clients of the result document at `path` (schema 1 or 2), validated. Raises ConfigError
    with one printable line naming the file: unreadable, not JSON, too deep, not a result, an agency summary,
    written by a newer auditor, or invalid (the first error's JSON path, and how many more)."""
    doc = _read(path)
    if isinstance(doc.get("run"), dict):
        raise _refuse(path, "an agency summary, not a result document: render clients/<name>.json instead")
    version = doc.get("schema_version")
    if isinstance(version, (int, float)) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise _refuse(path, f"written by a newer auditor (result schema {version}); this version reads schema 1 "
                            f"to {SCHEMA_VERSION}: upgrade auditor")
    try:
        errors = validate(doc)
    except RecursionError:
        raise _refuse(path, "not an auditor JSON result (nested too deeply)") from None
    # The envelope (header, the clients array) must be whole; a damaged client entry costs that client only:
    # it is reported errored in its place, with the first thing wrong with it, and the others are read.
    by_client: dict[int, list[str]] = {}
    envelope = []
    for e in errors:
        head = _CLIENT_ENTRY.match(e)
        if head:
            by_client.setdefault(int(head.group(1)), []).append(e)
        else:
            envelope.append(e)
    if envelope:
        more = len(envelope) - 1
        rest = f"; and {more} more error{'s' if more > 1 else ''}" if more else ""
        raise _refuse(path, f"not an auditor JSON result ({envelope[0]}{rest})")
    clients = [_damaged(c, i, by_client[i]) if i in by_client else _client(c, i) for i, c in enumerate(doc["clients"])]
    return Header.from_json(doc), clients


_CLIENT_ENTRY = re.compile(r"^clients\[(\d+)\]")


def _damaged(entry: Any, index: int, errors: list[str]) -> ClientResult:
    from auditor.audit import error_result

    name = entry.get("name") if isinstance(entry, dict) else None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_result(printable(name if isinstance(name, str) else f"clients[{index}]"),
                        [printable(f"{errors[0]}{more}: could not be read")])


def _client(entry: dict[str, Any], index: int) -> ClientResult:
    """One validated client entry as a result. The schema and `from_json` are kept in step by the tests; should
    they ever part, that client is reported errored in its place, never the whole document refused."""
    try:
        return ClientResult.from_json(entry)
    except Exception as e:
        from auditor.audit import error_result, unforeseen

        name = entry.get("name")
        return error_result(printable(name if isinstance(name, str) else "?"),
                            [unforeseen(f"clients[{index}]", e, "could not be read")])


def load_client_file(path: str | Path) -> ClientResult:
    """The one client of a per-client document (an agency run's clients/<name>.json)."""
    _, clients = load_document(path)
    if len(clients) != 1:
        raise _refuse(path, f"expected the result of one client, found {len(clients)}")
    return clients[0]
