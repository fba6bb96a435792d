"""`vendorwatch replay | backtest | history | export | rebuild`: the history, read back.

Thin commands around `streams.replay.run` (the logic) and `streams.cli.main` (the app, option
aliases,
settings and error conventions): exit 0 on success, 1 when the data is bad (invalid records in
the history, an unknown vendor, a stalled read), 2 on misuse or misconfiguration (bad option
values, no Kafka to talk to, `rebuild` while workers run). Progress and summaries go to stderr,
so stdout stays clean for `--json` and `export`.

Every command says up to which offsets it read `vendorwatch.events`; `--end-offsets` reads to
those offsets again, so an audit answer can be reproduced exactly later on.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from vendorwatch.streams.cli.common import (
    DataDirOpt,
    JsonOpt,
    PolicyOpt,
    ServersOpt,
    app,
    console,
    err_console,
    fail,
    parse_instant,
    policy_option,
)
from vendorwatch.streams.cli.connect import client_bootstrap
from vendorwatch.streams.cli.render import SEVERITY_STYLES, reasons, scores_table
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.rules import Transition
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.history import HistoryReadError
from vendorwatch.streams.replay.curve import (
    AlertSpan,
    alert_spans,
    event_times,
    score_curve,
    vendor_state,
)
from vendorwatch.streams.replay.export import ExportSink, export_async
from vendorwatch.streams.replay.reader import ReplayError, Window, iso, log_end_offsets, read_log
from vendorwatch.streams.replay.rebuild import active_members, current_firing, plan_rebuild
from vendorwatch.streams.replay.reports import (
    BacktestReport,
    backtest_report,
    event_summary,
    firing_dict,
    replay_items,
    timeline_items,
)
from vendorwatch.streams.replay.run import PolicyResult, ReplayResult, ReplaySpec, Step, replay

WORKER_GROUP = topics.GROUP_ID
"""The consumer group of the live workers (the Faust app id in `streams.worker.app`)."""
PROGRESS_MIN_RECORDS = 20_000
"""Reads shorter than this finish before a progress bar is worth drawing."""

FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from", help="Start of the window (event time, ISO-8601; inclusive).", metavar="ISO"
    ),
]
ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to", help="End of the window (event time, ISO-8601; inclusive).", metavar="ISO"
    ),
]
EndOffsetsOpt = Annotated[
    str | None,
    typer.Option(
        "--end-offsets",
        help="Read only below these offsets, e.g. 0=120,1=88 (default: the end as of now; "
        "every command prints the offsets it read to, so a run can be repeated exactly).",
        metavar="P=O,...",
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        min=1,
        max=64,
        help="Processes folding partitions in parallel (default: one per core on long reads).",
        metavar="N",
    ),
]


# --- shared plumbing -----------------------------------------------------------------------------


def bootstrap_from(bootstrap_servers: str | None, data_dir: Path | None) -> str:
    """Configured Kafka or the running embedded broker; exit 2 when there is neither."""
    return client_bootstrap(bootstrap_servers, data_dir)


def parse_end_offsets(value: str | None) -> dict[int, int] | None:
    """`0=120,1=88` -> {0: 120, 1: 88}."""
    if value is None:
        return None
    ends: dict[int, int] = {}
    try:
        for part in value.split(","):
            partition, _, offset = part.strip().partition("=")
            ends[int(partition)] = int(offset)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a list of PARTITION=OFFSET (e.g. 0=120,1=88)",
            param_hint="--end-offsets",
        ) from None
    if any(p < 0 or o < 0 for p, o in ends.items()):
        raise typer.BadParameter("partitions and offsets are >= 0", param_hint="--end-offsets")
    return ends


def format_offsets(ends: dict[int, int]) -> str:
    return ",".join(f"{p}={o}" for p, o in sorted(ends.items()))


def parse_start(value: str | None) -> datetime | None:
    """Like `cli.parse_instant`, but a date alone means the *start* of that day: `--from
    2025-06-12 --to 2025-06-12` is the whole of 12 June."""
    instant = parse_instant(value)
    if value is not None and instant is not None and len(value) == 10:
        return instant.replace(hour=0, minute=0, second=0, microsecond=0)
    return instant


def window_from(start: str | None, end: str | None) -> Window:
    """An event-time window from --from/--to; a start after the end is misuse (exit 2)."""
    first, last = parse_start(start), parse_instant(end)
    if first is not None and last is not None and first > last:
        raise typer.BadParameter(f"--from {start} is after --to {end}")
    return Window.of(first, last)


@contextmanager
def progress_bar(what: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(on_start, on_progress) callbacks that draw a progress bar on stderr for long reads."""
    progress = Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    state: dict[str, Any] = {"task": None, "started": time.monotonic(), "done": 0}

    def on_start(total: int) -> None:
        if total >= PROGRESS_MIN_RECORDS and err_console.is_terminal:
            progress.start()
            state["task"] = progress.add_task(what, total=total, rate="")
            state["started"] = time.monotonic()

    def on_progress(n: int) -> None:
        task = state["task"]
        if task is None:
            return
        state["done"] += n
        elapsed = max(time.monotonic() - state["started"], 1e-6)
        progress.update(task, advance=n, rate=f"{state['done'] / elapsed:,.0f} ev/s")

    try:
        yield on_start, on_progress
    finally:
        if state["task"] is not None:  # stopping a bar never started prints an empty line
            progress.stop()


def run_replay(
    spec: ReplaySpec, ends: dict[int, int] | None, jobs: int | None, what: str
) -> ReplayResult:
    """Replay with a progress bar; Kafka trouble exits 2, a stalled read 1."""
    try:
        with progress_bar(what) as (on_start, on_progress):
            result = replay(spec, ends=ends, jobs=jobs, on_start=on_start, on_progress=on_progress)
    except ReplayError as exc:
        raise fail(str(exc), 2) from None
    except HistoryReadError as exc:
        raise fail(str(exc), 1) from None
    report_read(result)
    return result


def report_read(result: ReplayResult) -> None:
    """One line on stderr: what was read, up to where, how fast; and skipped invalid records."""
    stats = result.stats
    policies = ", ".join(f"{r.policy.label} ({r.policy.version})" for r in result.results)
    jobs = f", {result.jobs} jobs" if result.jobs > 1 else ""
    err_console.print(
        f"read {stats.records:,} records of {topics.EVENTS} to offsets "
        f"{format_offsets(result.ends) or '(empty)'} in {result.seconds:.1f} s "
        f"({result.events_per_second:,.0f}/s{jobs}); folded {stats.events:,} events under "
        f"{policies}",
        highlight=False,
        markup=False,
        style="dim",
        soft_wrap=True,
    )
    if stats.invalid:
        examples = "; ".join(stats.invalid_examples)
        err_console.print(
            f"[yellow]warning:[/] skipped {stats.invalid} invalid record(s) in {topics.EVENTS}, "
            f"as the live pipeline does: {escape(examples)}",
            highlight=False,
            markup=True,
            soft_wrap=True,
        )


def write_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def policies_from(paths: Sequence[Path]) -> list[Policy]:
    return [policy_option(path) for path in paths]


def _when(t: float | None) -> str:
    text = iso(t)
    return "-" if text is None else text.replace("T", " ").replace(":00Z", "Z")


# --- replay --------------------------------------------------------------------------------------


@app.command("replay")
def replay_command(
    start: FromOpt = None,
    end: ToOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Scores and alerts as of this event time: the events that happened by then, "
            "decayed to it (same as --to; default: now).",
            metavar="ISO",
        ),
    ] = None,
    as_live: Annotated[
        bool,
        typer.Option(
            "--as-live",
            help="What the live pipeline published instead: each event at the stream time it "
            "was scored at, ending at the latest one (or at --as-of, read as a stream time).",
        ),
    ] = False,
    policy: PolicyOpt = None,
    vendor: Annotated[
        str | None, typer.Option("--vendor", help="Only this vendor.", metavar="ID")
    ] = None,
    as_json: JsonOpt = False,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
    end_offsets: EndOffsetsOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Scores and firing alerts as of a point in event time, replayed from the event history.

    As of T (default: now): the events that happened by T, in log order and in event time, then
    every vendor brought to T, so scores are decayed to T and alerts that ended on time (a key
    person's move growing old, pauses lapsing) have ended; `vendorwatch score --as-of T` says
    the same of a file. With --as-live: what the live pipeline published (`GET /vendors`), each
    event at the stream time the worker scored it at. With --from, also the alerts that fired
    or resolved inside the window, for the vendors that had events in it.
    """
    if as_of is not None and end is not None:
        raise typer.BadParameter("--as-of and --to mean the same here; give one")
    window = window_from(start, as_of if as_of is not None else end)
    active_policy = policy_option(policy)
    ends = parse_end_offsets(end_offsets)
    # T: the wall clock is read here, never by the replay logic
    horizon = window.end if window.end is not None or as_live else time.time()
    bootstrap = bootstrap_from(bootstrap_servers, data_dir)
    spec = ReplaySpec(
        bootstrap,
        (active_policy,),
        horizon=horizon,
        vendor=vendor,
        window=window,
        collect_marks=window.start is not None,
        as_live=as_live,
    )
    result = run_replay(spec, ends, jobs, "replay")
    outcome = result.result
    if vendor is not None and vendor not in outcome.scores:
        raise fail(f"no events for vendor {vendor!r} in {topics.EVENTS} (up to the horizon)")
    items = replay_items(outcome, vendor=vendor, window=window)
    if as_json:
        write_json(items)
        return
    shown = {item["vendor_id"] for item in items}
    scores = [s for s in outcome.sorted_scores() if s.vendor_id in shown]
    at = datetime.fromtimestamp(horizon, UTC) if horizon is not None else None
    if as_live:
        title = f"vendor risk as live published it, to {iso(horizon) if horizon else 'the end'}"
    else:
        title = f"replayed vendor risk as of {iso(horizon)}"
    console.print(scores_table(scores, active_policy, at, title=title))
    console.print(alerts_table(outcome, shown))
    if window.start is not None:
        console.print(transitions_table(outcome, window))


def alerts_table(result: PolicyResult, vendors: set[str]) -> Table | Text:
    firing = [
        (vendor, f) for vendor in sorted(vendors) for f in result.firing.get(vendor, {}).values()
    ]
    if not firing:
        return Text("no alerts firing", style="dim")
    table = Table(title="alerts firing", show_lines=False)
    for column in ("vendor", "rule", "severity", "since", "summary"):
        table.add_column(column)
    for vendor, f in sorted(firing, key=lambda item: (item[1].starts_at, item[0])):
        table.add_row(
            vendor,
            f.rule,
            Text(f.severity, style=SEVERITY_STYLES[f.severity]),
            _when(f.starts_at),
            f.summary,
        )
    return table


def transitions_table(result: PolicyResult, window: Window) -> Table | Text:
    marks = sorted(result.marks, key=lambda m: (m.at, m.vendor_id, m.rule))
    span = f"{_when(window.start)} .. {_when(window.end) if window.end else 'end'}"
    if not marks:
        return Text(f"no alerts fired or resolved {span}", style="dim")
    table = Table(title=f"alert transitions {span}")
    for column in ("when", "vendor", "rule", "status", "severity", "summary"):
        table.add_column(column)
    for m in marks:
        table.add_row(
            _when(m.at),
            m.vendor_id,
            m.rule,
            m.status,
            Text(m.severity, style=SEVERITY_STYLES.get(m.severity, "")),
            m.summary,
        )
    return table


# --- backtest ------------------------------------------------------------------------------------


@app.command()
def backtest(
    policy: Annotated[
        list[Path],
        typer.Option(
            "--policy",
            help="A policy file; give exactly two: A (e.g. the current one) and B (a candidate).",
            metavar="FILE",
        ),
    ],
    start: FromOpt = None,
    end: ToOpt = None,
    as_json: JsonOpt = False,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
    end_offsets: EndOffsetsOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """The alerts two policies would have fired over the history, side by side.

    Both run over one read of `vendorwatch.events` with the live alert rules, as of the end of
    the window (default: now; alerts that end on time do, at their instants). Shows, per
    vendor, which policy alerts first and by how many days; alert counts per month; and the
    vendors whose severity differs at the end. The window (--from/--to) selects which alerts
    count; the history before it is still folded, so scores have their full context.
    """
    if len(policy) != 2:
        raise typer.BadParameter(
            f"give --policy exactly twice (A and B), not {len(policy)} time(s)",
            param_hint="--policy",
        )
    window = window_from(start, end)
    policy_a, policy_b = policies_from(policy)
    bootstrap = bootstrap_from(bootstrap_servers, data_dir)
    spec = ReplaySpec(
        bootstrap,
        (policy_a, policy_b),
        # as of the window's end (default: now, read here): alerts that end on time do
        horizon=window.end if window.end is not None else time.time(),
        window=window,
        collect_marks=True,
    )
    result = run_replay(spec, parse_end_offsets(end_offsets), jobs, "backtest")
    report = backtest_report(result.results[0], result.results[1], window)
    if as_json:
        write_json(report.to_dict())
        return
    render_backtest(report, policy)


def render_backtest(report: BacktestReport, paths: Sequence[Path]) -> None:
    a, b = report.policies
    window = report.window
    span = (
        "over the whole history"
        if window.start is None and window.end is None
        else f"{_when(window.start) if window.start else 'start'} .. "
        f"{_when(window.end) if window.end else 'end of log'}"
    )
    console.print(
        f"[bold]A[/] {escape(a.label)} ({escape(a.version)}) {escape(str(paths[0]))}\n"
        f"[bold]B[/] {escape(b.label)} ({escape(b.version)}) {escape(str(paths[1]))}\n"
        f"alerts fired {span}: "
        f"A {report.totals[0]}, B {report.totals[1]}",
        highlight=False,
        markup=True,
    )
    if report.differences == 0:
        console.print(
            "[green]no differences[/]: both policies fire the same alerts at the same "
            "times and end with the same severities",
            markup=True,
        )
        return
    firsts = Table(title="first alert per vendor")
    for column in ("vendor", "A", "B", "first", "B vs A"):
        firsts.add_column(column)
    for f in report.first_alerts:
        days = f.days_later
        if f.first == "A" and f.b is None:
            delta = "B never alerts"
        elif f.first == "B" and f.a is None:
            delta = "A never alerts"
        elif days is None or days == 0:
            delta = "same time"
        else:
            delta = f"{abs(days):g} days {'later' if days > 0 else 'earlier'}"
            if abs(days) < 2 and f.a is not None and f.b is not None:
                delta += f" ({abs(f.b.at - f.a.at) / 3600:.3g} h)"
        firsts.add_row(
            f.vendor_id,
            f"{_when(f.a.at)} {f.a.rule}" if f.a else "-",
            f"{_when(f.b.at)} {f.b.rule}" if f.b else "-",
            f.first,
            delta,
        )
    console.print(firsts)
    if report.rule_firsts:
        rules = Table(title="first firing per rule, where the policies differ")
        for column in ("vendor", "rule", "A", "B", "B vs A (days)"):
            rules.add_column(column)
        for vendor, by_rule in sorted(report.rule_firsts.items()):
            for rule, (ta, tb) in sorted(by_rule.items()):
                days = None if ta is None or tb is None else round((tb - ta) / 86_400, 2)
                rules.add_row(
                    vendor,
                    rule,
                    _when(ta) if ta is not None else "never",
                    _when(tb) if tb is not None else "never",
                    "-" if days is None else f"{days:+g}",
                )
        console.print(rules)
    monthly = Table(title="alerts fired per month")
    for column, justify in (("month", "left"), ("A", "right"), ("B", "right")):
        monthly.add_column(column, justify=justify)  # type: ignore[arg-type]
    for month, count_a, count_b in report.monthly:
        style = "" if count_a == count_b else "bold"
        monthly.add_row(month, str(count_a), str(count_b), style=style)
    console.print(monthly)
    if report.severity_differences:
        severities = Table(title="severity at the end, where it differs")
        for column in ("vendor", "A", "B"):
            severities.add_column(column)
        for vendor, sa, sb in report.severity_differences:
            severities.add_row(
                vendor,
                Text(f"{sa.score:.1f} {sa.severity}", style=SEVERITY_STYLES[sa.severity])
                if sa
                else Text("-"),
                Text(f"{sb.score:.1f} {sb.severity}", style=SEVERITY_STYLES[sb.severity])
                if sb
                else Text("-"),
            )
        console.print(severities)


# --- history -------------------------------------------------------------------------------------


@app.command()
def history(
    vendor_id: Annotated[str, typer.Argument(help="The vendor's id.", metavar="VENDOR_ID")],
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart",
            help="Also write a PNG of the score over event time, decaying between the events, "
            "with the events marked and the alerts shaded from firing to resolved "
            "(needs the 'chart' extra: pip install 'vendorwatch[chart]').",
            metavar="FILE",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Only the events that happened by then (event time, ISO-8601; inclusive); "
            "the chart ends there (default: now).",
            metavar="ISO",
        ),
    ] = None,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
    end_offsets: EndOffsetsOpt = None,
) -> None:
    """A vendor's events and score changes as a timeline, replayed from the event history.

    As of --to (default: now): the events that happened by then, and between them the instants
    at which time alone changed the score or the alerts (an alert ending on time, decay across
    a band or threshold), each where it fell; the final score is the score at --to.
    """
    active_policy = policy_option(policy)
    # T: the wall clock is read here, never by the replay logic
    horizon = (parse_instant(end) or datetime.now(UTC)).timestamp()
    if chart is not None:
        pyplot = load_pyplot()  # fail before the read, not after it
    bootstrap = bootstrap_from(bootstrap_servers, data_dir)
    spec = ReplaySpec(
        bootstrap,
        (active_policy,),
        horizon=horizon,
        vendor=vendor_id,
        collect_steps=True,
    )
    result = run_replay(spec, parse_end_offsets(end_offsets), 1, "history")
    outcome = result.result
    # one vendor, one partition, one job: the steps are in the order they were evaluated
    steps = sorted(outcome.steps, key=lambda s: s.partition)
    events = [step for step in steps if step.event is not None]
    if not events:
        raise fail(f"no events for vendor {vendor_id!r} in {topics.EVENTS}")
    final = outcome.scores[vendor_id]
    if chart is not None:
        transitions = [t for step in steps for t in step.transitions]
        write_chart(pyplot, chart, events, outcome, active_policy, horizon, transitions)
        err_console.print(f"wrote {chart}", highlight=False)
    if as_json:
        write_json(
            {
                "vendor_id": vendor_id,
                "name": final.name,
                "policy_version": active_policy.version,
                "score": final.to_dict(),
                "alerts": [
                    firing_dict(f)
                    for f in sorted(
                        outcome.firing.get(vendor_id, {}).values(),
                        key=lambda f: (f.starts_at, f.rule),
                    )
                ],  # in replay --json's order
                "timeline": timeline_items(steps),
            }
        )
        return
    table = Table(
        title=f"{final.name} ({vendor_id}): events and score to {_when(horizon)}",
        caption=f"policy {active_policy.label} ({active_policy.version})",
    )
    for column, justify in (
        ("event time", "left"),
        ("event", "left"),
        ("what", "left"),
        ("score", "right"),
        ("severity", "left"),
        ("alerts", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for step in steps:
        delta = ""
        if step.previous is not None and step.changed:
            moved = round(step.score.score - step.previous.score, 2)
            delta = f" ({moved:+.2f})" if moved else " (new reasons)"
        alerts = Text()
        for t in step.transitions:
            if alerts:
                alerts.append("\n")
            alerts.append(
                f"{'▲' if t.status == 'firing' else '▽'} {t.rule}",
                style=SEVERITY_STYLES[t.severity] if t.status == "firing" else "dim",
            )
        if step.event is None:
            when, kind, what = step.at, Text("time", style="dim"), "no event: time alone"
        else:
            when = step.event.time.timestamp()
            kind = Text(step.event.type + (" (duplicate)" if step.duplicate else ""))
            what = event_summary(step.event)
        table.add_row(
            _when(when),
            kind,
            what,
            Text(f"{step.score.score:.1f}{delta}", style="" if step.changed else "dim"),
            Text(step.score.severity, style=SEVERITY_STYLES[step.score.severity]),
            alerts,
        )
    console.print(table)
    console.print(Text(f"as of {_when(horizon)}: ", style="bold") + reasons(final, limit=10))


def load_pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or exit 2 saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise fail("--chart needs matplotlib: pip install 'vendorwatch[chart]'", 2) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


EVENT_COLOURS = {
    "ownership": "#c0392b",
    "person": "#8e44ad",
    "client": "#d35400",
    "security": "#e74c3c",
    "data": "#2980b9",
    "workforce": "#16a085",
    "demand": "#27ae60",
    "vendor": "#7f8c8d",
    "funding": "#c0392b",
}


RULE_COLOURS = {
    "competitor_stake": "#d62728",
    "score_critical": "#8c564b",
    "key_person_to_competitor": "#9467bd",
    "peer_pauses": "#ff7f0e",
    "score_jump": "#1f77b4",
}
"""One colour per alert rule of the shipped policy; other rules take `SPARE_COLOURS` in name
order. Per rule rather than per severity: most rules share two severities, and a reader wants to
tell which alert a span is."""
SPARE_COLOURS = ("#17becf", "#e377c2", "#bcbd22", "#2ca02c", "#7f7f7f")
BAND_SHADES = {"low": "#fef9e7", "medium": "#fdebd0", "high": "#fadbd8", "critical": "#f5b7b1"}
LANE_HEIGHT = 4.0
"""Score units per alert lane: the lanes sit above 100, where no score can be."""


def rule_colours(rules: Sequence[str]) -> dict[str, str]:
    """Colour of each rule: the shipped rules keep theirs, others get spare ones in name order."""
    spare = iter(SPARE_COLOURS * (1 + len(rules) // len(SPARE_COLOURS)))
    return {rule: RULE_COLOURS.get(rule) or next(spare) for rule in sorted(set(rules))}


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def write_chart(
    pyplot: Any,
    path: Path,
    steps: Sequence[Step],
    result: PolicyResult,
    policy: Policy,
    end: float,
    transitions: Iterable[Transition] | None = None,
) -> None:
    """Score over event time up to `end`, decaying between events; events as dots coloured by
    kind; each alert shaded from firing to resolved, with a lane per rule above the score.

    `transitions` are the vendor's alert transitions (default: those of the steps); an alert
    that ended on time, with no event then, is shaded up to its `ends_at`.

    The line is `curve.score_curve`: the reference score sampled between the events, so it shows
    what the published scores (one per event) cannot: signals fading with their half-lives, and
    competitor ownership, which does not fade, holding the score up. Vendor histories are long
    and quiet with short bursts (Scale AI: three years, then one week in June 2025), so when the
    alerts fall in a small part of the chart a second panel zooms in on them, where their labels
    can be read.
    """
    vendor_id = steps[0].event.subject
    state = vendor_state(vendor_id, (step.event for step in steps))
    times = event_times(state)
    first_t = times[0]
    end = max(end, times[-1])
    curve = score_curve(state, policy, first_t, end)
    if transitions is None:
        transitions = (t for step in steps for t in step.transitions)
    marks = [t for t in transitions if t.as_of <= end]
    spans = alert_spans(marks, end)
    colours = rule_colours([s.rule for s in spans])
    order = list(dict.fromkeys(s.rule for s in spans))  # by first start, as in the legend
    lanes = {rule: len(order) - 1 - i for i, rule in enumerate(order)}  # the first on top
    fired = [(_at(t.as_of), t.score, t.rule) for t in marks if t.status == "firing"]
    zoom: tuple[datetime, datetime] | None = None
    if fired:
        lo = min(f[0] for f in fired)
        hi = max(max(f[0] for f in fired), _at(times[-1]))
        if (hi - lo).total_seconds() < 0.2 * (end - first_t):
            margin = max(hi - lo, timedelta(days=2)) * 0.5
            zoom = (lo - margin, hi + margin)
    rows = 2 if zoom else 1
    fig, axes = pyplot.subplots(rows, 1, figsize=(12.5, 4.6 * rows), dpi=110, squeeze=False)
    name = result.scores[vendor_id].name if vendor_id in result.scores else vendor_id
    for row, ax in enumerate(axes[:, 0]):
        _chart_panel(ax, curve, steps, fired, spans, colours, lanes, policy, labels=row == rows - 1)
        if row == 1 and zoom is not None:
            ax.set_xlim(*zoom)
            ax.set_title("around the alerts", fontsize=10)
        else:
            pad = timedelta(seconds=0.01 * (end - first_t))
            ax.set_xlim(_at(first_t) - pad, _at(end) + pad)
    axes[0, 0].set_title(
        f"{name}: risk score over event time, to {_at(end).strftime('%Y-%m-%d %H:%M')} UTC"
    )
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.075, 1.0), fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel(f"event time (UTC); policy {policy.label} ({policy.version})")
    for ax in axes[:, 0]:
        ax.tick_params(axis="x", labelrotation=20)  # not autofmt_xdate: the panels' x differ
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    pyplot.close(fig)


def _chart_panel(
    ax: Any,
    curve: Sequence[tuple[float, float]],
    steps: Sequence[Step],
    fired: Sequence[tuple[datetime, float, str]],
    spans: Sequence[AlertSpan],
    colours: dict[str, str],
    lanes: dict[str, int],
    policy: Policy,
    *,
    labels: bool,
) -> None:
    bands = policy.severity_bands
    edges = [
        ("low", bands.low),
        ("medium", bands.medium),
        ("high", bands.high),
        ("critical", bands.critical),
    ]
    for i, (band, lower) in enumerate(edges):
        upper = edges[i + 1][1] if i + 1 < len(edges) else 100
        ax.axhspan(lower, upper, color=BAND_SHADES[band], alpha=0.45, linewidth=0, zorder=0)
        ax.axhline(lower, color="#c9b8a6", linewidth=0.6, linestyle=":", zorder=0.5)
        ax.text(
            1.005,
            (lower + upper) / 2,
            band,
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
            color="#555",
        )
    shown: set[str] = set()
    for span in spans:
        start, stop = _at(span.start), _at(span.end)
        colour = colours[span.rule]
        # faint, because alerts overlap (a stake fires several rules at once): the lanes carry
        # the colour, the shade says "alerting" across the whole height
        ax.axvspan(start, stop, color=colour, alpha=0.06, linewidth=0, zorder=1)
        lane = 100 + 1 + LANE_HEIGHT * lanes[span.rule]
        ax.fill_between(
            [start, stop],
            lane,
            lane + LANE_HEIGHT * 0.75,
            color=colour,
            alpha=0.9 if span.resolved else 0.55,
            linewidth=0,
            zorder=2,
            label=(f"alert {span.rule} ({span.severity})" if span.rule not in shown else None),
        )
        shown.add(span.rule)
    ax.plot(
        [_at(t) for t, _ in curve],
        [v for _, v in curve],
        color="#222",
        linewidth=1.6,
        zorder=3,
        label="score",
    )
    seen: set[str] = set()
    for step in steps:
        kind = step.event.type.split(".")[0]
        ax.scatter(
            [step.event.time],
            [step.score.score],
            s=30,
            zorder=4,
            color=EVENT_COLOURS.get(kind, "#555"),
            label=f"{kind} event" if kind not in seen else None,
        )
        seen.add(kind)
    if fired:
        ax.scatter(
            [f[0] for f in fired],
            [min(f[1] + 3, 99) for f in fired],
            marker="v",
            s=55,
            color="#7b241c",
            zorder=5,
            label="alert fired",
        )
    if labels:
        stack = 0
        previous: datetime | None = None
        for when, value, rule in sorted(fired):
            stack = stack + 1 if previous is not None and when == previous else 0
            previous = when
            ax.annotate(
                rule,
                (when, min(value + 3, 99)),
                xytext=(6, -10 - 10 * stack),
                textcoords="offset points",
                fontsize=7,
                color="#7b241c",
            )
    ax.set_ylabel("score (0-100)")
    ax.set_ylim(0, 100 + 2 + LANE_HEIGHT * max(len(lanes), 0))
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="x", color="#ddd", linewidth=0.5)


# --- export --------------------------------------------------------------------------------------


@app.command()
def export(
    start: FromOpt = None,
    end: ToOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout.", metavar="FILE"),
    ] = None,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
    end_offsets: EndOffsetsOpt = None,
) -> None:
    """Write the event history as JSON Lines, ordered by event time, then vendor, then log order.

    Each line is the event exactly as stored on `vendorwatch.events` (its canonical encoding),
    each id once, so `vendorwatch ingest` of the file into an empty Kafka and another export
    give the same bytes.
    """
    window = window_from(start, end)
    ends = parse_end_offsets(end_offsets)
    bootstrap = bootstrap_from(bootstrap_servers, data_dir)
    started = time.perf_counter()
    try:
        with progress_bar("export") as (on_start, on_progress):
            sink, read_to = asyncio.run(
                export_async(bootstrap, window, ends, on_start=on_start, on_progress=on_progress)
            )
    except ReplayError as exc:
        raise fail(str(exc), 2) from None
    except HistoryReadError as exc:
        raise fail(str(exc), 1) from None
    write_lines(sink, output)
    stats = sink.stats
    err_console.print(
        f"exported {sink.count:,} events of {topics.EVENTS} (to offsets "
        f"{format_offsets(read_to) or '(empty)'}) in {time.perf_counter() - started:.1f} s; "
        f"outside the window {stats.outside:,}, duplicate ids {stats.duplicates:,}",
        highlight=False,
        style="dim",
        soft_wrap=True,
    )
    if stats.reencoded:
        err_console.print(
            f"[yellow]note:[/] {stats.reencoded} stored event(s) were not in canonical form; "
            "exported canonically",
            highlight=False,
            markup=True,
        )
    if stats.invalid:
        raise fail(
            f"{stats.invalid} record(s) of {topics.EVENTS} are not valid events and were not "
            f"exported: {'; '.join(stats.invalid_examples)}"
        )


def write_lines(sink: ExportSink, output: Path | None) -> None:
    if output is None:
        out = sys.stdout.buffer
        for line in sink.lines():
            out.write(line)
            out.write(b"\n")
        out.flush()
        return
    with output.open("wb") as handle:
        for line in sink.lines():
            handle.write(line)
            handle.write(b"\n")


# --- rebuild -------------------------------------------------------------------------------------


@app.command()
def rebuild(
    policy: Annotated[
        Path,
        typer.Option("--policy", help="The policy to roll out (YAML).", metavar="FILE"),
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Publish even though workers are running (see the description)."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be published; publish nothing.")
    ] = False,
    as_json: JsonOpt = False,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Re-score every vendor from the history under a new policy: the policy roll-out step.

    Run it with the workers stopped, then start them with VENDORWATCH_POLICY=FILE:

      1. stop the workers; 2. vendorwatch rebuild --policy FILE; 3. start the workers with
      VENDORWATCH_POLICY=FILE (or --policy FILE).

    Rebuild replays `vendorwatch.events` under FILE and publishes, for every vendor, the score
    record a worker running FILE would have published last, and the alert transitions that make
    the firing alerts match FILE (new ones fire, ones FILE does not raise resolve). The read view
    and Grafana switch to FILE at once, and no vendor keeps an old-policy score until its next
    event. Restarted workers rebuild their partitions from the events topic under FILE and take
    exactly these scores as their baseline, so they publish nothing twice.

    Why not while workers run: a worker still on the old policy would publish an old-policy
    score for the next event of a vendor after rebuild's record, and once restarted under FILE it
    would not publish that vendor again until it changes — the view would mix policies. So
    rebuild refuses while the `vendorwatch` consumer group has members (--force overrides; then
    restart the workers with FILE straight after, and run rebuild once more).
    """
    new_policy = policy_option(policy)
    bootstrap = bootstrap_from(bootstrap_servers, data_dir)
    try:
        members = asyncio.run(active_members(bootstrap, WORKER_GROUP))
    except ReplayError as exc:
        raise fail(str(exc), 2) from None
    if members and not force and not dry_run:
        raise fail(
            f"{len(members)} worker(s) are running in consumer group {WORKER_GROUP!r}: stop them "
            "first, then rebuild, then start them with VENDORWATCH_POLICY="
            f"{policy} (or pass --force; see --help)",
            2,
        )
    # as live: each event at the stream time it was scored at, as the restarted workers will
    # rebuild their partitions, so they take these scores as their baseline, float for float
    spec = ReplaySpec(bootstrap, (new_policy,), as_live=True)
    result = run_replay(spec, None, jobs, "rebuild")
    live_firing = asyncio.run(read_firing_alerts(bootstrap))
    plan = plan_rebuild(result.result, live_firing, time.time())
    summary = {
        "policy": {"label": new_policy.label, "version": new_policy.version, "file": str(policy)},
        "events_read_to": {str(p): o for p, o in result.ends.items()},
        "scores_published": len(plan.scores),
        "alerts_fired": len(plan.fire),
        "alerts_resolved": len(plan.resolve),
        "dry_run": dry_run,
        "workers_running": len(members),
    }
    if not dry_run:
        asyncio.run(publish_plan(bootstrap, plan))
    if as_json:
        write_json(summary)
    else:
        verb = "would publish" if dry_run else "published"
        console.print(
            f"{verb} {len(plan.scores)} score record(s) to {topics.SCORES} and "
            f"{len(plan.alerts)} alert transition(s) to {topics.ALERTS} "
            f"({len(plan.fire)} firing, {len(plan.resolve)} resolved) under policy "
            f"{new_policy.label} ({new_policy.version})",
            highlight=False,
        )
    if not dry_run:
        err_console.print(
            f"next: start the workers with VENDORWATCH_POLICY={policy} "
            f"(or `vendorwatch worker --policy {policy}`)",
            highlight=False,
        )


async def read_firing_alerts(bootstrap: str) -> dict[str, dict[str, Any]]:
    """The alerts firing now according to `vendorwatch.alerts` (what the read view shows)."""
    try:
        ends = await log_end_offsets(bootstrap, topics.ALERTS)
    except ReplayError:
        return {}
    records: list[dict[str, Any]] = []
    by_partition: dict[int, list[dict[str, Any]]] = {}

    def collect(partition: int, chunk: list[Any]) -> None:
        by_partition.setdefault(partition, []).extend(
            orjson.loads(r.value) for r in chunk if r.value is not None
        )

    await read_log(bootstrap, ends, collect, topic=topics.ALERTS)
    for partition in sorted(by_partition):
        records.extend(by_partition[partition])  # keyed by vendor: order matters per partition
    return current_firing(records)


async def publish_plan(bootstrap: str, plan: Any) -> None:
    """Send the plan's records keyed by vendor id and wait for every acknowledgement."""
    from aiokafka import AIOKafkaProducer

    from vendorwatch.streams.kafka_io.compat import AIOKAFKA_PRODUCER_SETTINGS

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        max_batch_size=256 * 1024,
        client_id="vendorwatch-rebuild",
        **AIOKAFKA_PRODUCER_SETTINGS,
    )
    await producer.start()
    try:
        pending = []
        for record in plan.scores:
            pending.append(
                await producer.send(
                    topics.SCORES, orjson.dumps(record), key=record["vendor_id"].encode()
                )
            )
        for record in plan.alerts:
            pending.append(
                await producer.send(
                    topics.ALERTS, orjson.dumps(record), key=record["vendor_id"].encode()
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
