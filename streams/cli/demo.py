"""`vendorwatch demo`: embedded broker + worker + the bundled scenario, told in time.

Why a story and not a load: loaded at once, the scenario shows every vendor "as of" its last
event in June 2025, and none of what time does to risk is visible: the key-person alert that
ends after `active_days`, the peer pauses that lapse, the temporary signals that decay while
Meta's 49% stays. So the demo's worker runs on a scenario clock (`Settings.clock`), and a
driver plays the scenario along its own timeline on a simulated clock: quickly through the
quiet years, slowly through June 2025, at a steady pace through the months of decay after it,
then the clock jumps to today. About a minute at `--speed 1`.

How time reaches the worker: through the front door, like a producer's events. Each event goes
to the raw topic keyed by its vendor id (on its vendor's partition) when the simulated clock
reaches its time; after each step the driver sends a clock record (`CLOCK_HEADER`) to every raw
partition, because each partition keeps its own stream time. The worker evaluates the deadlines
that fell due and publishes what they changed.

The pacing is a pure function of the simulated instant (`wall_offset`, over `STORY`'s
segments) and the whole run is planned up front (`plan`), so tests check what is sent and
when without a broker. The story is played only when the history is empty: a restart shows the
restored history (sending at once any scenario event a story stopped halfway did not reach),
then jumps the clock to today.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaProducer
from rich.console import Console, Group
from rich.text import Text

from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.sinks.slack import fallback_text
from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.streams.cli.live import run_live_table
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.eventfile import demo_scenario_path, iter_lines
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.partitioning import vendor_partition
from vendorwatch.streams.settings import Settings
from vendorwatch.streams.worker.app import create_pipeline
from vendorwatch.streams.worker.pipeline import Pipeline
from vendorwatch.streams.worker.score_step import CLOCK_HEADER

log = structlog.get_logger(__name__)

HOUR = 3600.0
DAY = 24 * HOUR


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- the pacing: pure ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the story: simulated time from the previous segment's end (or
    `STORY_START`) to `until` plays in `wall_s` wall seconds at speed 1, evenly."""

    until: float
    wall_s: float
    caption: str


STORY_START = _utc("2022-10-01T00:00:00")
"""Two days before the scenario's first event (the vendors are registered on 2022-10-03)."""
STORY: tuple[Segment, ...] = (
    Segment(_utc("2025-05-01T00:00:00"), 8.0, "the quiet years: vendors registered, data shared"),
    Segment(_utc("2025-06-12T12:00:00"), 3.0, "spring 2025"),
    Segment(
        _utc("2025-06-12T18:00:00"),
        8.0,
        "12 June 2025: Meta takes 49% of Scale AI; Scale's CEO joins Meta",
    ),
    Segment(
        _utc("2025-06-21T00:00:00"),
        22.0,
        "June 2025: Google, xAI and OpenAI pause work with Scale AI; its rivals' demand surges",
    ),
    Segment(_utc("2025-07-01T00:00:00"), 4.0, "late June 2025"),
    Segment(_utc("2025-09-06T00:00:00"), 5.0, "summer 2025: the temporary signals decay"),
    Segment(
        _utc("2025-09-15T00:00:00"),
        4.0,
        "September 2025: the CEO's move is 90 days old, the pauses lapse: their alerts end",
    ),
    Segment(_utc("2026-01-01T00:00:00"), 5.0, "late 2025: the temporary signals keep decaying"),
)
"""Where the wall time goes (speed 1): 8 s for 2022-10 to 2025-04; 35 s for June 2025, where the
stake pages at about 14 s, the CEO's move an hour of story (1.3 s) later and the pauses over
the next 20 s; 18 s for the months in which the temporary signals decay, with September 2025
slowed so that the CEO's alert (ending on the 10th) and the pauses' (the 12th) end apart. Then
a pause and the jump to today: about a minute in all."""
FINAL_PAUSE_S = 1.0
"""Wall seconds (at speed 1) between the end of the story and the jump to today."""
TICK_STEPS: tuple[float, ...] = (HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 91 * DAY, 365 * DAY)
"""The simulated steps a clock record may advance, finest first."""
MAX_TICKS_PER_S = 4.0
"""Clock records per raw partition per wall second, at most: the finest step that keeps to it
is used in each segment, so a faster run ticks more coarsely instead of more often."""


def check_speed(speed: float) -> None:
    """Refuse a speed the pacing cannot divide by (the CLI says so in one line first)."""
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a finite number > 0, not {speed!r}")


def wall_offset(at: float, speed: float = 1.0, story: Sequence[Segment] = STORY) -> float:
    """Wall seconds from the start of the run until the simulated clock reaches `at`:
    piecewise linear over the story's segments, 0 before `STORY_START`, the story's length
    after its end (anything later is sent at the end, before the jump to today)."""
    check_speed(speed)
    elapsed, begin = 0.0, STORY_START
    if at <= begin:
        return 0.0
    for segment in story:
        if at <= segment.until:
            return (elapsed + segment.wall_s * (at - begin) / (segment.until - begin)) / speed
        elapsed += segment.wall_s
        begin = segment.until
    return elapsed / speed


def story_seconds(speed: float = 1.0, story: Sequence[Segment] = STORY) -> float:
    """The run's wall length up to the jump to today."""
    check_speed(speed)
    return (sum(s.wall_s for s in story) + FINAL_PAUSE_S) / speed


def caption_at(at: float, story: Sequence[Segment] = STORY) -> str:
    """What the story is about at simulated instant `at` (shown under the table)."""
    for segment in story:
        if at <= segment.until:
            return segment.caption
    return story[-1].caption


def tick_step(span: float, wall_s: float, speed: float) -> float:
    """The finest `TICK_STEPS` step that keeps a segment of `span` simulated seconds played in
    `wall_s / speed` wall seconds within `MAX_TICKS_PER_S` (the whole span if none does)."""
    budget = MAX_TICKS_PER_S * wall_s / speed
    for step in TICK_STEPS:
        if span / step <= budget:
            return step
    return span


def tick_instants(speed: float, end: float, story: Sequence[Segment] = STORY) -> list[float]:
    """The simulated instants of the story's clock records, none after `end` (today)."""
    check_speed(speed)
    instants = [STORY_START]
    begin = STORY_START
    for segment in story:
        step = tick_step(segment.until - begin, segment.wall_s, speed)
        k = 1
        while begin + k * step < segment.until:
            instants.append(begin + k * step)
            k += 1
        instants.append(segment.until)
        begin = segment.until
    return [t for t in instants if t <= end]


@dataclass(frozen=True, slots=True)
class Beat:
    """One step of the run: at `wall` seconds from the start (at the run's speed), send
    `lines` (scenario events, in file order), then a clock record at `at` to every raw
    partition."""

    wall: float
    at: float
    lines: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class ScenarioLine:
    """A scenario line with what the driver needs of it: its vendor, id and time."""

    line: bytes
    subject: str
    event_id: str
    time: float | None


def read_lines(lines: Iterable[bytes]) -> list[ScenarioLine]:
    """The scenario's non-blank lines. A line the driver cannot read a time from is still
    sent (first), so that the worker dead-letters it with its reason, as it would anyone's."""
    found = []
    for line in lines:
        subject, event_id, instant = "", "", None
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            record = orjson.loads(line)
            subject = str(record.get("subject") or "")
            event_id = str(record.get("id") or "")
            instant = datetime.fromisoformat(record["time"]).timestamp()
        found.append(ScenarioLine(line, subject, event_id, instant))
    return found


def due_times(lines: Sequence[ScenarioLine]) -> list[float]:
    """When each line is sent, in simulated time: at its own time, but never before an earlier
    line of the same vendor (a vendor's events keep their file order: the key's guarantee)."""
    latest: dict[str, float] = {}
    due = []
    for item in lines:
        at = max(item.time if item.time is not None else STORY_START, latest.get(item.subject, 0))
        latest[item.subject] = at
        due.append(at)
    return due


def plan(lines: Sequence[ScenarioLine], speed: float, end: float) -> list[Beat]:
    """The whole run, in order: a beat at every tick instant and at every event's due time
    (the events of one instant together, in file order). Pure: the driver only sleeps until
    each beat's `wall` and sends it; the final jump to today is not part of it (it is read
    from the wall clock when it is sent)."""
    check_speed(speed)
    by_instant: dict[float, list[bytes]] = defaultdict(list)
    for item, at in zip(lines, due_times(lines), strict=True):
        by_instant[at].append(item.line)
    instants = set(tick_instants(speed, end)) | set(by_instant)
    return [
        Beat(wall_offset(at, speed), at, tuple(by_instant.get(at, ()))) for at in sorted(instants)
    ]


def final_scores(policy: Policy, lines: Sequence[ScenarioLine], at: float) -> dict[str, float]:
    """Every scenario vendor's last published score once the stream time is `at`: the live
    `Processor` run over the scenario in the order the driver sends it, each event at its own
    time as the scenario-clock worker applies it, then brought to `at`. Deadlines are decided
    by the history, not by when ticks come, so the live worker publishes the same numbers;
    `--until-scored` waits for the view to show them."""
    processor = Processor(policy)
    in_order = sorted(zip(due_times(lines), range(len(lines)), strict=True))
    for _, index in in_order:
        try:
            event = parse_event(lines[index].line)
        except InvalidEvent:
            continue  # dead-lettered by the worker too
        processor.process(0, event, math.floor(event.time.timestamp() * 1000) / 1000)
    processor.advance(0, at)
    return {vendor: figures.score for vendor, figures in processor.last_published.items()}


def stream_time_text(at: float | None) -> str:
    """'2025-06-12 14:00 UTC': the stream time as the table's title shows it."""
    if at is None:
        return "not started"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- the driver: I/O ----------------------------------------------------------------------


class RawWriter:
    """Sends scenario events and clock records to the raw topic, as a producer would."""

    def __init__(self, producer: AIOKafkaProducer, raw: Sequence[int], history: int) -> None:
        self.producer = producer
        self.raw_partitions = list(raw)
        """Every raw partition: each keeps its own stream time and needs each clock record."""
        self.history_partitions = history
        """An event goes straight to its vendor's partition (the worker's rule), so it is never
        re-routed behind a later clock record and applied late."""

    @classmethod
    async def start(cls, bootstrap: str) -> RawWriter:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
        await producer.start()
        try:
            raw = await producer.partitions_for(topics.RAW)
            history = await producer.partitions_for(topics.EVENTS)
        except BaseException:
            await producer.stop()
            raise
        return cls(producer, sorted(raw), len(history))

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, lines: Iterable[ScenarioLine | bytes], at: float | None) -> None:
        """Send the events, then (unless `at` is None) a clock record at `at` to every raw
        partition, and wait for the broker's acks: a vendor's records keep their order."""
        for item in lines:
            line = item.line if isinstance(item, ScenarioLine) else item
            key = (item.subject if isinstance(item, ScenarioLine) else _subject(line)).encode()
            partition = vendor_partition(key, self.history_partitions) if key else None
            await self.producer.send(topics.RAW, line, key=key or None, partition=partition)
        if at is not None:
            header = [(CLOCK_HEADER, str(round(at * 1000)).encode())]
            for partition in self.raw_partitions:
                await self.producer.send(topics.RAW, b"", partition=partition, headers=header)
        await self.producer.flush()


def _subject(line: bytes) -> str:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return str(orjson.loads(line).get("subject") or "")
    return ""


@dataclass
class DemoState:
    """What the table's title and footer show, updated by the driver."""

    at: float | None = None
    """The stream time the driver last sent (the simulated clock)."""
    caption: str = ""
    status: str = "starting…"
    sent: int = 0
    total: int = 0
    finished: bool = False
    """The clock has reached today: the story is told."""

    def title(self) -> str:
        return f"vendorwatch: vendor risk at stream time {stream_time_text(self.at)}"


async def play(
    writer: RawWriter,
    beats: Sequence[Beat],
    state: DemoState,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Send each beat when its wall offset comes (at once when the run is behind)."""
    started = clock()
    for beat in beats:
        delay = started + beat.wall - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        await writer.send(beat.lines, beat.at)
        state.at = beat.at
        state.caption = caption_at(beat.at)
        state.sent += len(beat.lines)
        state.status = f"{state.sent}/{state.total} scenario events sent"
        if beat.lines:
            log.info("demo_events_sent", events=len(beat.lines), stream_time=beat.at)


def scenario_scored(pipeline: Pipeline, expected: dict[str, float]) -> bool:
    """True once the view shows the expected final score of every scenario vendor."""
    return not score_differences(pipeline, expected)


def score_differences(pipeline: Pipeline, expected: dict[str, float]) -> dict[str, Any]:
    """Vendor -> (view's score, expected) for every vendor the view does not show as expected."""
    differ: dict[str, Any] = {}
    for vendor_id, value in expected.items():
        found = pipeline.view.vendor(vendor_id)
        shown = None if found is None or found.score is None else found.score.get("score")
        if shown != value:
            differ[vendor_id] = (shown, value)
    return differ


def known_event_ids(pipeline: Pipeline) -> set[str]:
    """Event ids the view holds (its recent events per vendor): what a restart need not send."""
    return {
        str(event.get("id")) for vendor in pipeline.view.vendors.values() for event in vendor.recent
    }


def notification_line(n: Notification) -> Text:
    """One notification under the table: its stream time and Slack's text, in red while
    anything fires, then the rules that ended in it in green (Slack's text names only the
    firing ones, and a vendor whose stake alert keeps firing never sends an all-resolved one)."""
    line = Text(f"  {n.as_of.astimezone(UTC):%Y-%m-%d %H:%M}  ")
    line.append(fallback_text(n), style="bold red" if n.status == "firing" else "green")
    if n.resolved:
        line.append(f"  resolved: {', '.join(a.rule for a in n.resolved)}", style="green")
    return line


QUIET_S = 10.0
"""With --until-scored: once the clock is at today, how long a view that stopped changing
without the expected scores is waited for before the demo says so and stops anyway (a history
with more than the scenario, e.g. events ingested into an earlier run, never matches)."""
NOTIFICATIONS_SHOWN = 8


def build_demo(
    settings: Settings,
    policy: Policy,
    bootstrap: str,
    console: Console,
    *,
    until_scored: bool,
    stop: Any,
    speed: float = 1.0,
) -> Pipeline:
    """The worker's pipeline (on a scenario clock) plus the demo's driver and live table."""
    check_speed(speed)
    settings = settings.model_copy(update={"clock": "scenario"})
    pipeline = create_pipeline(settings, policy, bootstrap)
    with demo_scenario_path().open("rb") as stream:
        scenario = read_lines(line for _, line in iter_lines(stream))
    state = DemoState(total=len(scenario))

    def footer() -> Group:
        lines: list[Any] = []
        if state.caption and not state.finished:
            lines.append(Text(f"▶ {state.caption}", style="bold cyan"))
        alerting = pipeline.alerting
        if alerting is not None and alerting.recent:
            lines.append(Text("alerts (newest first):", style="bold"))
            lines.extend(notification_line(n) for n in list(alerting.recent)[:NOTIFICATIONS_SHOWN])
            if not alerting.deliverers:
                lines.append(
                    Text(
                        "  (no --slack-webhook-url/--webhook-url/--alertmanager-url: "
                        "alerts print here)",
                        style="dim",
                    )
                )
        lines.append(
            Text(
                f"{state.status}   API http://{settings.web_host}:{settings.web_port}/vendors"
                f"   metrics /metrics   broker {bootstrap}   Ctrl-C to stop",
                style="dim",
            )
        )
        return Group(*lines)

    async def jump_to_now(writer: RawWriter) -> float:
        now = round(time.time() * 1000) / 1000
        await writer.send((), now)
        state.at = now
        return now

    async def wait_scored(expected: dict[str, float]) -> None:
        """Until the view shows `expected`, or has been quiet for `QUIET_S` without it."""
        quiet_since = time.monotonic()
        while not scenario_scored(pipeline, expected):
            pipeline.view.changed.clear()
            try:
                await asyncio.wait_for(pipeline.view.changed.wait(), timeout=1.0)
                quiet_since = time.monotonic()
            except TimeoutError:
                if time.monotonic() - quiet_since >= QUIET_S:
                    log.warning(
                        "demo_scores_differ", differences=score_differences(pipeline, expected)
                    )
                    return
        log.info("demo_scenario_scored")

    @pipeline.app.task
    async def demo_driver() -> None:
        await pipeline.view.caught_up.wait()
        restored = len(pipeline.view.vendors)
        table = asyncio.create_task(
            run_live_table(pipeline.view, console, state.title, footer, refresh_s=0.2, idle_s=0.3)
        )
        writer = await RawWriter.start(bootstrap)
        try:
            if not restored:
                state.status = f"playing {state.total} scenario events at speed {speed:g}"
                beats = plan(scenario, speed, time.time())
                log.info("demo_story_started", beats=len(beats), seconds=story_seconds(speed))
                await play(writer, beats, state)
                await asyncio.sleep(FINAL_PAUSE_S / speed)
                status = f"loaded {state.total} scenario events"
            else:
                known = known_event_ids(pipeline)
                missing = [item for item in scenario if item.event_id not in known]
                if missing:  # a story stopped halfway: the rest at once, no second telling
                    await writer.send(missing, None)
                status = f"history restored ({restored} vendors)"
                if missing:
                    status += f", {len(missing)} events the last run had not reached sent"
            final = await jump_to_now(writer)
            state.finished = True
            state.status = f"{status}; clock at today"
            log.info("demo_clock_at_today", stream_time=final)
            await wait_scored(final_scores(policy, scenario, final))
            state.status += "; scenario scored"
            if until_scored:
                await asyncio.sleep(1.0 + policy.alerts.group_wait_seconds)
                stop()
                return
            # from here on the demo is a live monitor: its clock follows the wall clock
            while True:
                await asyncio.sleep(settings.tick_seconds)
                await jump_to_now(writer)
        finally:
            table.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await table
            await writer.stop()

    return pipeline


def stop_worker(worker: Any) -> None:
    """Ask a running mode/Faust worker to stop as if it got SIGTERM (mode has no public API)."""
    worker._on_sigterm()
