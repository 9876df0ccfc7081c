"""`audit record --out DIR`: save what a live run fetches as fixtures that `audit --offline DIR` audits identically.

Layout: DIR/<client>/ga4/*.json (ga4/funnels.json when funnel reports were read), DIR/<client>/ads/*.json,
DIR/<client>/client.yaml (profile, when known) and DIR/manifest.json (recorded_at, tool version, API versions,
clients, calls). Every body is redacted first (`auditor.connectors.redact`): no e-mail address, token or secret
reaches the disk. Each client folder is written beside its final place and swapped in, so a folder is always a
complete recording, old or new. Recording again into the same folder merges the manifest (`merge_manifest`):
clients not recorded again keep their entries, so a partial client stays partial for `audit --offline`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from auditor.commands.common import Verbosity, inherited, verbosity_options
from auditor.errors import ConfigError
from auditor.files import write_text_atomic

_ARRAY_FILES = frozenset({"ga4/funnels.json"})
MANIFEST = "manifest.json"
# a run's own facts, at the manifest's top level (the latest run) and in its `runs` list
_RUN_FIELDS = ("recorded_at", "tool", "api_versions", "calls")


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The live run's options, also accepted after the subcommand (`audit record --property ...`)."""
    options = [
        click.option("--property", "property_id", metavar="ID", help="GA4 property to read."),
        click.option("--customer", "customer_id", metavar="ID", help="Google Ads customer to read (10 digits)."),
        click.option("--discover", is_flag=True,
                     help="Every property and client account the credentials reach."),
        click.option("--manager", "manager_id", metavar="ID", help="Google Ads manager to discover clients under."),
        click.option("--config", "config", metavar="FILE", help="Config file whose clients to read."),
        click.option("--profile", metavar="NAME", help="Profile written to client.yaml for clients without one."),
        click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
                     help="Clients fetched concurrently [default: 4]."),
        click.option("--ga4-credentials", metavar="FILE", help="GA4 service-account key or OAuth user JSON."),
        click.option("--ads-config", metavar="FILE", help="google-ads.yaml."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def live_args(ctx: click.Context, **given: Any) -> dict[str, Any]:
    """Options given to the subcommand, else the ones given before it (`audit --property X record ...`)."""
    obj = ctx.find_root().obj or {}
    keys = {"property_id": "property", "customer_id": "customer", "manager_id": "manager"}
    out = {k: v if v not in (None, False) else obj.get(keys.get(k, k)) for k, v in given.items()}
    if out.get("jobs") is None:
        from auditor.live import DEFAULT_JOBS

        out["jobs"] = DEFAULT_JOBS
    return out


@click.command("record")
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the recording to (created if needed; clients recorded again are replaced, "
                   "the others and what the manifest says of them are kept).")
@target_options
@verbosity_options
@click.pass_context
def record_cmd(ctx: click.Context, out: Path, quiet: bool, verbose: bool, no_color: bool, **given: Any) -> None:
    """Record live API responses as fixtures (redacted) for `audit --offline DIR`.

    \b
    audit record --property 123456789 --customer 123-456-7890 --out recordings/
    audit record --discover --manager 999-999-9999 --out recordings/
    """
    from auditor.audit import result_header, unforeseen
    from auditor.cli import EXIT_INCOMPLETE, EXIT_OK, load_ruleset
    from auditor.connectors.redact import redact
    from auditor.live import Live, funnel_planner, iter_fetched, resolve_targets
    from auditor.progress import Progress
    from auditor.text import printable

    verbosity = Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                             inherited(ctx, "no_color", no_color))

    def warn(message: str) -> None:
        if not verbosity.quiet:
            click.echo(printable(f"audit: warning: {message}"), err=True)

    a = live_args(ctx, **given)
    ruleset = load_ruleset(a["config"], a["profile"])
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: not a directory")
    # read before any call is made: an unreadable manifest stops the run rather than lose earlier clients' state
    earlier = read_manifest(out)
    # the same funnel reports as `audit` with these options reads, so the recording audits the same
    say = (lambda m: click.echo(printable(f"audit: {m}"), err=True)) if verbosity.verbose else None
    live = Live(a["ga4_credentials"], a["ads_config"], a["jobs"], planner=funnel_planner(ruleset), detail=say)
    targets = resolve_targets(ruleset, a["property_id"], a["customer_id"], bool(a["discover"]), a["manager_id"],
                              live, warn=warn)
    if not targets:
        raise ConfigError("no clients to record: discovery found no property or client account")
    live.prepare(targets)
    # the run's default profile is worth writing only when the user chose it (else offline picks the same)
    chosen = a["profile"] or (ruleset.user.profile if ruleset.user else None)
    default_profile = ruleset.default_profile if chosen else None
    out.mkdir(parents=True, exist_ok=True)
    header = result_header()
    clients: list[dict[str, Any]] = []
    code = EXIT_OK

    def this_run() -> dict[str, Any]:
        return {"recorded_at": header.generated_at, "tool": header.to_json()["tool"],
                "api_versions": live.api_versions(), "calls": live.calls()}

    def save(manifest: dict[str, Any]) -> None:
        write_text_atomic(out / MANIFEST, json.dumps(redact(MANIFEST, manifest), indent=2) + "\n")

    def record(f: Any, progress: Progress) -> dict[str, Any]:
        """Write one fetched client's folder; its manifest entry. Errors and warnings go above the bar."""
        entry: dict[str, Any] = {"name": f.name, "property": f.target.property, "customer": f.target.customer}
        if f.raw is None:
            for e in f.errors:
                progress.echo(printable(f"audit: error: client {f.name}: {e}"))
            return {**entry, "status": "error", "errors": f.errors}
        profile = f.target.profile or default_profile
        conf = next((c for c in ruleset.user.clients if c.name == f.name), None) if ruleset.user else None
        funnel = list(conf.funnel) if conf is not None and getattr(conf, "funnel", None) else None
        missing = dict(sorted(f.raw.missing.items()))
        guard = guard_entry(earlier, f.name, missing)
        if guard is not None:
            # the folder is about to change under a manifest that would call it more complete than it
            # is: say first what either version lacks, so an interruption leaves it partial, not passed
            save(merge_manifest(earlier, this_run(), [*clients, {**entry, **guard}]))
        try:
            files = write_client(out / f.name, {k: [redact(k, b) for b in v]
                                                for k, v in f.raw.bodies.items()}, profile, funnel,
                                 read_on=f.raw.read_on)
        except Exception as e:  # this client's folder (a name too long, a file the disk refused), not the run
            error = unforeseen(str(out / f.name), e, "could not be written")
            progress.echo(printable(f"audit: error: client {f.name}: {error}"))
            return {**entry, "status": "error", "errors": [error]}
        entry.update(status="incomplete" if missing else "recorded", profile=profile, files=files)
        if missing:
            entry["missing"] = missing
            for key, why in missing.items() if not verbosity.quiet else ():
                progress.echo(printable(f"audit: warning: client {f.name}: {key}: not recorded: {why}"))
        return entry

    try:
        with Progress(len(targets), enabled=verbosity.progress, verbose=verbosity.verbose,
                      label="recording") as progress:
            for f in iter_fetched(targets, a["jobs"], live):
                entry = record(f, progress)
                clients.append(entry)
                if entry["status"] != "recorded":
                    code = EXIT_INCOMPLETE
                progress.advance(f.name)
    finally:
        live.close()
    save(merge_manifest(earlier, this_run(), clients))
    ok = sum(1 for c in clients if c["status"] != "error")
    if not verbosity.quiet:
        click.echo(printable(f"audit: recorded {ok} of {len(clients)} client(s) in {out}"), err=True)
    ctx.exit(code)


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The folder's manifest.json, None when there is none. ConfigError when it cannot be read: merging into it
    blindly would drop what it says about earlier clients (their `missing` files) and pass them offline."""
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read the earlier recording's manifest ({type(e).__name__}); move it "
                          "away, or record into another folder") from None
    if not isinstance(data, dict) or not isinstance(data.get("clients", []), list):
        raise ConfigError(f"{path}: not a recording manifest (expected an object with a clients list); move it "
                          "away, or record into another folder")
    return data


def merge_manifest(earlier: dict[str, Any] | None, run: dict[str, Any],
                   entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest after a run that recorded `entries` into a folder whose manifest was `earlier`.

    `run` is this run's recorded_at, tool, api_versions and calls: the top level describes the latest run, as
    before. Each client entry says which run wrote it (`run`, `recorded_at`) and `runs` keeps the runs some
    entry still refers to, so an earlier client keeps its own date, tool and API versions. A client recorded
    now replaces its entry; one not recorded now keeps it, with its `missing` files, so it stays partial
    offline. A client that errored now but was recorded before keeps its earlier entry (its files are still
    the ones on disk), with the failed attempt under `latest_attempt`.
    """
    earlier = earlier or {}
    runs = [dict(r) for r in earlier.get("runs") or [] if isinstance(r, dict) and isinstance(r.get("run"), int)]
    old = [dict(c) if isinstance(c, dict) else c for c in earlier.get("clients") or []]
    if earlier and not runs:
        # written before runs were numbered: its top level described the one run that wrote every entry
        runs = [{"run": 1, **{k: earlier[k] for k in _RUN_FIELDS if k in earlier}}]
        for c in old:
            if isinstance(c, dict):
                c.setdefault("run", 1)
                if "recorded_at" in earlier:
                    c.setdefault("recorded_at", earlier["recorded_at"])
    number = max((r["run"] for r in runs), default=0) + 1
    stamp = {"run": number, "recorded_at": run.get("recorded_at")}
    index = {c["name"]: i for i, c in enumerate(old) if isinstance(c, dict) and isinstance(c.get("name"), str)}
    for entry in entries:
        new = {**entry, **stamp}
        i = index.get(entry["name"])
        if i is None:
            index[entry["name"]] = len(old)
            old.append(new)
        elif entry.get("status") == "error" and old[i].get("status") != "error":
            old[i] = {**old[i], "latest_attempt": {**stamp, "status": "error", "errors": entry.get("errors", [])}}
        else:
            old[i] = new
    runs.append({**stamp, **{k: run[k] for k in _RUN_FIELDS if k in run and k != "recorded_at"}})
    used = {number}
    for c in old:
        if isinstance(c, dict):
            attempt = c.get("latest_attempt")
            used.update([c.get("run"), attempt.get("run") if isinstance(attempt, dict) else None])
    return {**{k: run[k] for k in _RUN_FIELDS if k in run}, "clients": old,
            "runs": [r for r in runs if r["run"] in used]}  # a run no entry refers to any more says nothing


def guard_entry(manifest: dict[str, Any] | None, name: str, missing: dict[str, str]) -> dict[str, Any] | None:
    """The entry to write before `name`'s folder is swapped, or None when the `manifest` on disk is already safe.

    Safe means every file the new recording lacks is already listed missing for that client, so whichever
    folder an interrupted run leaves on disk, the offline audit reports it at least as incomplete as it is."""
    if not missing:
        return None
    entry = next((c for c in (manifest or {}).get("clients") or [] if isinstance(c, dict) and c.get("name") == name),
                 None)
    listed = dict(entry["missing"]) if entry is not None and isinstance(entry.get("missing"), dict) else {}
    if entry is not None and entry.get("status") != "error" and set(missing) <= set(listed):
        return None
    return {"status": "incomplete", "missing": dict(sorted({**listed, **missing}.items())), "files": [],
            "unconfirmed": "the run stopped before this client's recording was confirmed: its folder holds this "
                           "recording or the earlier one, and missing lists what either lacks"}


def write_client(folder: Path, bodies: dict[str, list[dict[str, Any]]], profile: str | None,
                 funnel: list[str] | None = None, read_on: date | None = None) -> list[str]:
    """Write one client's recording beside `folder`, then swap it in. Returns the files written.

    client.yaml carries what the offline audit needs to match the live one: the profile, the client's own
    funnel ladder (from the config) and `read_on`, the day the data was read, from which ages are measured.
    Recipients are not written: addresses stay out of recordings."""
    from auditor.text import json_text

    tmp = folder.with_name(f".{folder.name}.recording-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.replaced-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    files = []
    try:
        for key, pages in sorted(bodies.items()):
            path = tmp / key
            path.parent.mkdir(parents=True, exist_ok=True)
            # searchStream batches and funnel reports (one per pair, not pages) stay an array, as in the sample
            # fixtures; a single GA4 page stays one body
            data: Any = pages if key in _ARRAY_FILES or key.startswith("ads/") or len(pages) != 1 else pages[0]
            path.write_text(json_text(data, indent=1) + "\n", encoding="utf-8")  # a lone surrogate cannot raise
            files.append(key)
        settings = {k: v for k, v in (("profile", profile), ("funnel", funnel), ("read_on", read_on)) if v}
        if settings:
            import yaml

            (tmp / "client.yaml").write_text(yaml.safe_dump(settings, sort_keys=False, default_flow_style=None),
                                             encoding="utf-8")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return files
