"""`audit diff`: new, resolved and persisting findings and the score change, from history or two JSON results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import click

from auditor.commands.common import Verbosity, inherited, verbosity_options
from auditor.result import ClientResult

Paired = tuple[str, ClientResult | None]  # (name, the newer result with its changes, or None: gone from it)


def _from_files(old: Path, new: Path) -> Iterator[Paired]:
    from auditor.agency.documents import read_document
    from auditor.diff import compute_changes, pair_clients

    (old_head, old_clients), (new_head, new_clients) = read_document(old), read_document(new)
    for name, a, b in pair_clients(old_clients, new_clients):
        if b is None:
            yield name, None  # gone from the newer result
            continue
        b.changes = compute_changes(b, a if a is not None and a.score is not None else None, [],
                                    new_head.generated_at, old_head.generated_at)
        yield name, b


def _from_history(path: Path, run_id: int | None, clients: list[str], warn: Callable[[str], None]) -> Iterator[Paired]:
    """Results of `run_id` (default: the latest complete run), each compared with the client's previous result
    in a complete run. A run that did not finish is never picked silently: reading one given by --run says so."""
    from auditor.diff import compute_changes
    from auditor.errors import ConfigError
    from auditor.history import COMPLETE, History

    if not path.is_file():
        raise ConfigError(f"{path}: no history database (run `audit run` first, or give two JSON results)")
    with History.open(path) as h:
        if run_id is None:
            rid = h.latest_run()
            newest = h.latest_run(complete=False)
            if rid is None and newest is None:
                raise ConfigError(f"{path}: the history holds no run yet")
            if rid is None:
                assert newest is not None
                raise ConfigError(f"{path}: the history holds no complete run yet (run {newest} is "
                                  f"{h.run_status(newest)}); give --run {newest} to read it anyway")
            if newest is not None and newest != rid:
                warn(f"{path}: run {newest} is {h.run_status(newest)}, not complete; showing run {rid}, the latest "
                     "complete run")
        else:
            rid = run_id
            status = h.run_status(rid)
            if status is None:
                raise ConfigError(f"{path}: no run {rid} in the history")
            if status != COMPLETE:
                warn(f"{path}: run {rid} is {status}: it did not finish, so its results may be partial and were "
                     "never a baseline; compared with each client's previous complete run")
        any_row = False
        for r in h.results(rid, clients or None):
            any_row = True
            r.changes = compute_changes(r, h.previous(r.name, rid), h.trend(r.name, rid), r.generated_at)
            yield r.name, r
        if not any_row:
            raise ConfigError(f"{path}: run {rid} holds no result" + (" for those clients" if clients else ""))


@click.command("diff")
@click.argument("results", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="[OLD.json NEW.json]")
@click.option("--config", "config", metavar="FILE", help="Agency config: where the history is (default: "
              ".auditor.yaml, else [tool.auditor] in pyproject.toml, in the working directory).")
@click.option("--history", metavar="PATH", type=click.Path(path_type=Path), help="History database to read.")
@click.option("--run", "run_id", type=int, metavar="ID", help="Compare this run with the one before (default: "
              "the latest complete run; a run that did not finish is read only when given, with a warning).")
@click.option("--client", "clients", multiple=True, metavar="NAME", help="Only this client (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--persisting", is_flag=True, help="Also list the findings that persist.")
@click.option("--fail-on-new", is_flag=True, help="Exit 1 when any client has a new finding.")
@verbosity_options
@click.pass_context
def diff_cmd(ctx: click.Context, results: tuple[Path, ...], config: str | None, history: Path | None,
             run_id: int | None, clients: tuple[str, ...], fmt: str, persisting: bool, fail_on_new: bool,
             quiet: bool, verbose: bool, no_color: bool) -> None:
    """Show what changed per client: new, resolved and persisting findings (matched by fingerprint) and the
    score change, for the latest run in the history or between two saved JSON results."""
    from auditor.diff import changes_line
    from auditor.errors import ConfigError
    from auditor.text import json_text, printable

    verbosity = Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                             inherited(ctx, "no_color", no_color))

    def warn(message: str) -> None:
        if not verbosity.quiet:
            click.echo(f"audit: warning: {printable(message)}", err=True)

    if results and len(results) != 2:
        raise ConfigError("give two JSON results (OLD.json NEW.json), or none to read the history")
    if results:
        items = _from_files(*results)
    else:
        if history is None:
            from auditor.agency.settings import load_settings

            st = load_settings(inherited(ctx, "config", config), merging=True, no_email=True)
            if st.history_path is None:
                raise ConfigError("history is disabled in the config; give --history PATH or two JSON results")
            history = st.history_path
            if verbosity.verbose:
                click.echo(f"audit: reading {printable(history)}", err=True)
        items = _from_history(history, run_id, list(clients), warn)
    new_total = 0
    out = click.get_text_stream("stdout")
    if fmt == "json":
        out.write('{"clients": [')
    first = True
    for name, r in items:
        if clients and name not in clients:
            continue
        ch = r.changes if r is not None else None
        if fmt == "json":
            body = {"name": name, "status": "removed"} if r is None or ch is None else {
                "name": name, "status": r.status, "score": r.score, "grade": r.grade, "changes": ch.to_json()}
            out.write(("\n  " if first else ",\n  ") + json_text(body))
            first = False
            new_total += len(ch.new) if ch else 0
            continue
        if r is None or ch is None:
            out.write(f"{printable(name)}: only in the older result\n")
            continue
        new_total += len(ch.new)
        score = "not audited" if r.score is None else f"{r.score}/100 {r.grade}"
        out.write(f"{printable(name)}: {score}, {printable(changes_line(ch))}\n")
        groups = [("+ new", ch.new), ("- resolved", ch.resolved)]
        if persisting:
            groups.append(("= persisting", ch.persisting))
        for label, fs in groups:
            for f in fs:
                out.write(f"  {label:<12} {f.severity.upper():<8} {printable(f.rule)}: {printable(f.message)}\n")
    if fmt == "json":
        out.write("\n]}\n" if not first else "]}\n")
    ctx.exit(1 if fail_on_new and new_total else 0)
