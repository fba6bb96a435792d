"""`vendorwatch feeds`: candidate events from articles and filings, and their review.

    vendorwatch feeds extract PATH... [--json] [--out candidates.jsonl]
    vendorwatch feeds review candidates.jsonl                      # list what is pending
    vendorwatch feeds review candidates.jsonl --accept ID [--set factor=3] --reviewer ana
    vendorwatch feeds review candidates.jsonl --reject ID --reason "a rumour" --reviewer ana
    vendorwatch feeds review candidates.jsonl --merge ID --into ID2 --reviewer ana

Offline: no broker, no Kafka client, no network. Accepted events are appended to an event file
(`--events`) that `vendorwatch ingest` sends to the raw topic like any other.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.text import Text

from vendorwatch.streams.cli.common import (
    JsonOpt,
    PolicyOpt,
    app,
    console,
    err_console,
    fail,
    policy_option,
)
from vendorwatch.streams.eventfile import demo_scenario_path

feeds_app = typer.Typer(
    name="feeds",
    help="Candidate events from news and filings, reviewed before they count.",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")

VendorsOpt = Annotated[
    Path | None,
    typer.Option(
        "--vendors",
        help="Event file whose vendor.registered / vendor.alias_added lines are the registry "
        "(default: the demo scenario's vendors).",
        metavar="FILE",
    ),
]


def _documents(paths: list[str]) -> list[Path]:
    """The document files that PATH arguments name: files as given, the text and HTML files of
    folders, the matches of a glob pattern the shell left unexpanded (quoted, or no shell);
    `.meta.json` sidecars are skipped wherever they come from (`seeds/*` lists them), since
    each is read with the document it describes."""
    from vendorwatch.feeds.documents import documents_in, is_sidecar

    found: list[Path] = []
    for raw in paths:
        if "://" in raw:
            raise fail(f"{raw}: URLs are read by connectors (feeds run), not by extract", 2)
        path = Path(raw)
        named = [path] if path.exists() else sorted(map(Path, glob.glob(raw, recursive=True)))
        if not named:
            raise fail(f"no such file or folder: {raw}", 2)
        for each in named:
            if each.is_dir():
                found.extend(documents_in(each))
            elif not is_sidecar(each):
                found.append(each)
    return list(dict.fromkeys(found))


@feeds_app.command("extract")
def extract_command(
    paths: Annotated[
        list[str],
        typer.Argument(help="Article files, folders or glob patterns.", metavar="PATH"),
    ],
    json_out: JsonOpt = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write the candidates for review (JSON Lines).", metavar="FILE"
        ),
    ] = None,
    vendors: VendorsOpt = None,
    policy_file: PolicyOpt = None,
) -> None:
    """Propose events from documents: each with its quote, span, confidence and reasons.

    A document that cannot be read (binary, too large, no article text, unknown language) gets
    one error line and the others are processed; the exit code is then 1."""
    from vendorwatch.feeds.candidates import cluster, dump_candidates
    from vendorwatch.feeds.documents import DocumentError, read_file
    from vendorwatch.feeds.extract import extract
    from vendorwatch.feeds.gazetteer import Gazetteer, read_registry

    policy = policy_option(policy_file)
    registry_path = vendors or demo_scenario_path()
    if not registry_path.is_file():
        raise fail(f"no such vendors file: {registry_path}", 2)
    gazetteer = Gazetteer(policy, read_registry(registry_path))
    candidates = []
    failed = 0
    for path in _documents(paths):
        try:
            document = read_file(path)
        except DocumentError as exc:
            err_console.print(f"{exc}", highlight=False, markup=False, soft_wrap=True)
            failed += 1
            continue
        candidates.extend(extract(document, gazetteer))
    candidates = cluster(candidates)
    if out is not None:
        out.write_bytes(dump_candidates(candidates))
    if json_out:
        typer.echo(json.dumps([c.summary() for c in candidates], ensure_ascii=False, indent=2))
    else:
        for c in candidates:
            _print_candidate(c)
        console.print(f"{len(candidates)} candidate(s); {failed} document(s) not read")
    if failed:
        raise typer.Exit(1)


def _print_candidate(c: Any) -> None:
    fields = {k: v for k, v in c.data.items() if k not in {"description", "reason", "text"}}
    flags = [f"time {c.time_precision}" if c.time_estimated else ""]
    flags += ["historical" if c.historical else "", "" if c.registered else "not registered"]
    header = Text()
    header.append(f"{c.id}  ", style="dim")
    header.append(f"{c.type} ", style="bold")
    header.append(f"{c.subject} ", style="cyan")
    header.append(f"{c.time.date().isoformat()} confidence {c.confidence:.2f} ")
    header.append(" ".join(f for f in flags if f), style="yellow")
    console.print(header, soft_wrap=True)
    console.print(Text(f"  {json.dumps(fields, ensure_ascii=False)}"), soft_wrap=True)
    quote = Text("  « ")
    quote.append(c.provenance.quote, style="bold reverse")
    quote.append(f" »  ({c.provenance.source} [{c.provenance.span[0]}:{c.provenance.span[1]}])")
    console.print(quote, soft_wrap=True)
    console.print(Text("  " + "; ".join(c.provenance.reasons), style="dim"), soft_wrap=True)
    for other in c.citations:
        console.print(Text(f"  also: {other.source} [{other.span[0]}:{other.span[1]}]"))


def _parse_edits(pairs: list[str]) -> dict[str, Any]:
    edits: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--set {pair!r}: expected FIELD=VALUE (VALUE as JSON or text)", 2)
        try:
            edits[key] = json.loads(value)
        except ValueError:
            edits[key] = value
    return edits


def _find(candidates: list[Any], prefix: str) -> Any:
    found = [c for c in candidates if c.id.startswith(prefix)]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise fail(f"{what} candidate(s) with id {prefix!r}", 2)
    return found[0]


@feeds_app.command("review")
def review_command(
    candidates_file: Annotated[
        Path, typer.Argument(help="Candidates from `feeds extract --out`.", metavar="FILE")
    ],
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Review log (default: FILE.review.jsonl).", metavar="LOG"),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="Accepted events are appended here, for `vendorwatch "
            "ingest` (default: FILE.accepted.jsonl).",
            metavar="OUT",
        ),
    ] = None,
    accept_id: Annotated[str | None, typer.Option("--accept", metavar="ID")] = None,
    reject_id: Annotated[str | None, typer.Option("--reject", metavar="ID")] = None,
    merge_id: Annotated[str | None, typer.Option("--merge", metavar="ID")] = None,
    into: Annotated[str | None, typer.Option("--into", metavar="ID")] = None,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    edits: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Edit before accepting: FIELD=VALUE (a data field, or type or subject).",
            metavar="FIELD=VALUE",
        ),
    ] = None,
    reviewer: Annotated[str | None, typer.Option("--reviewer", metavar="NAME")] = None,
    auto_accept: Annotated[
        list[str] | None,
        typer.Option(
            "--auto-accept",
            help="Accept every pending candidate of this source kind "
            "(e.g. filing); news is never auto-accepted by default.",
            metavar="KIND",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List pending candidates, or accept, reject or merge one (decisions go to the log)."""
    from pydantic import ValidationError

    from vendorwatch.feeds.candidates import load_candidates
    from vendorwatch.feeds.documents import SOURCE_KINDS
    from vendorwatch.feeds.review import (
        ReviewError,
        accept,
        append_log,
        merge,
        pending,
        read_log,
        reject,
    )

    for kind in auto_accept or []:
        if kind not in SOURCE_KINDS:
            raise typer.BadParameter(
                f"{kind!r} is not a source kind ({', '.join(SOURCE_KINDS)})",
                param_hint="'--auto-accept'",
            )
    if edits and not (accept_id or auto_accept):
        raise fail("--set edits what is accepted: give it with --accept ID", 2)
    changes = _parse_edits(edits or [])
    if not candidates_file.is_file():
        raise fail(f"no such file: {candidates_file}", 2)
    try:
        candidates = load_candidates(candidates_file.read_bytes())
    except (ValidationError, ValueError) as exc:
        message = str(exc).splitlines()[0]
        raise fail(f"{candidates_file}: not a candidates file ({message})", 1) from None
    log = log or candidates_file.with_name(candidates_file.stem + ".review.jsonl")
    events = events or candidates_file.with_name(candidates_file.stem + ".accepted.jsonl")
    actions = [a for a in (accept_id, reject_id, merge_id) if a]
    if len(actions) > 1:
        raise fail("one of --accept, --reject, --merge at a time", 2)
    try:
        decisions = read_log(log)
        waiting = pending(candidates, decisions)
        if accept_id or auto_accept:
            if accept_id and not reviewer:
                raise fail("--accept needs --reviewer (who decided is part of the record)", 2)
            chosen = (
                [_find(waiting, accept_id)]
                if accept_id
                else [c for c in waiting if c.kind in set(auto_accept or [])]
            )
            decided = [
                accept(candidate, reviewer if accept_id else None, changes)[0]
                for candidate in chosen
            ]
            if not decided:
                return
            # the events file is opened before anything is logged: a path that cannot be
            # written stops the command with nothing recorded
            with events.open("ab") as out:
                for decision in decided:
                    append_log(log, decision)
                    out.write(orjson.dumps(decision.data["event"]) + b"\n")
                    console.print(f"accepted {decision.subject} -> {events}", highlight=False)
            return
        if reject_id:
            if not reviewer or not reason:
                raise fail("--reject needs --reviewer and --reason", 2)
            append_log(log, reject(_find(waiting, reject_id), reviewer, reason))
            console.print(f"rejected {reject_id}", highlight=False)
            return
        if merge_id:
            if not reviewer or not into:
                raise fail("--merge needs --into and --reviewer", 2)
            append_log(log, merge(_find(waiting, merge_id), _find(waiting, into), reviewer))
            console.print(f"merged {merge_id} into {into}", highlight=False)
            return
    except ReviewError as exc:
        raise fail(str(exc), 1) from None
    if json_out:
        typer.echo(json.dumps([c.summary() for c in waiting], ensure_ascii=False, indent=2))
        return
    for c in waiting:
        _print_candidate(c)
    console.print(f"{len(waiting)} pending; log {log}", highlight=False)


@feeds_app.command("run")
def run_command(
    config: Annotated[
        Path, typer.Option("--config", help="Feeds configuration (YAML).", metavar="FILE")
    ],
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state-dir", help="Cursors, candidates.jsonl and the review log.", metavar="DIR"
        ),
    ] = Path(".vendorwatch/feeds"),
    vendors: VendorsOpt = None,
    policy_file: PolicyOpt = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Poll once and exit: 1 if a source could not be read."),
    ] = False,
    send: Annotated[
        bool,
        typer.Option("--send", help="Send auto-accepted events to the raw topic (Kafka)."),
    ] = False,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            "--bootstrap-servers",
            help="Kafka for --send (env VENDORWATCH_BOOTSTRAP_SERVERS).",
            metavar="HOSTS",
        ),
    ] = None,
) -> None:
    """Poll the configured sources: new candidates go to STATE_DIR/candidates.jsonl for
    `feeds review`; those of auto-accepted kinds (never news by default) are accepted."""
    import time

    import httpx

    from vendorwatch.feeds.gazetteer import Gazetteer, read_registry
    from vendorwatch.feeds.poller import Poller, load_config

    try:
        settings = load_config(config)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    policy = policy_option(policy_file)
    registry_path = vendors or demo_scenario_path()
    if not registry_path.is_file():
        raise fail(f"no such vendors file: {registry_path}", 2)
    producer = None
    if send:
        from vendorwatch.streams.cli.common import settings_from
        from vendorwatch.streams.embedded.runtime import NoKafkaError, resolve_bootstrap
        from vendorwatch.streams.kafka_io.ingest import make_producer

        try:
            producer = make_producer(resolve_bootstrap(settings_from(
                bootstrap_servers=bootstrap_servers)))  # fmt: skip
        except NoKafkaError as exc:
            raise fail(str(exc), 2) from None
    poller = Poller(settings, Gazetteer(policy, read_registry(registry_path)), state_dir,
                    httpx.Client(timeout=30, follow_redirects=True))  # fmt: skip
    try:
        while True:
            report = poller.poll()
            for error in report.errors:
                err_console.print(error, highlight=False, markup=False, soft_wrap=True)
            sent = 0
            if producer is not None and report.accepted:
                from vendorwatch.streams.kafka_io.ingest import ingest_lines

                sent = ingest_lines(producer, report.accepted).sent
            console.print(
                f"{len(report.new)} new candidate(s), {len(report.accepted)} auto-accepted, "
                f"{sent} sent, {len(report.errors)} error(s); review: {poller.candidates_file}",
                highlight=False,
            )
            if once:  # for cron and CI: a failed source is an exit code, not only a line
                if report.errors:
                    raise typer.Exit(1)
                return
            time.sleep(settings.interval_seconds)
    except KeyboardInterrupt:
        return
    finally:
        if producer is not None:
            producer.close()
