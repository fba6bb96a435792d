"""Logging: structlog for our lines, the same formatter for Faust, aiokafka and kafka-python.

JSON lines in production (`VENDORWATCH_LOG_FORMAT=json`), readable console lines for people.
A processor masks every registered secret value (webhook URLs, tokens; see `alerts.redact`)
wherever it appears in a line, before and after rendering, so a secret that slips into an
exception message or a library's log still never reaches the output.

In JSON mode every line on stderr must parse, so that a log shipper never has to guess: Python
warnings and uncaught exceptions (in the main thread or any other) are routed through the same
formatter instead of being printed as free text by the interpreter.

Field conventions (docs/operations.md lists them): a line about one event carries `event_id` and
`vendor_id`; a line about one alert also `fingerprint`; a line about a notification (several
alerts of one vendor) carries `vendor_id`, `fingerprints`, `event_ids` and `idempotency_key`.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import threading
from types import TracebackType
from typing import Any, ClassVar, TextIO

import orjson
import structlog
from structlog.processors import _json_fallback_handler

from vendorwatch.alerts.redact import register_secret, scrub, structlog_scrubber

__all__ = ["configure_logging", "enabled", "logging_config", "register_secret"]


def _redact_rendered(_: Any, __: str, rendered: Any) -> Any:
    """Scrub the rendered line too: a secret inside a nested value is caught here."""
    return scrub(rendered) if isinstance(rendered, str) else rendered


_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""Datetimes and dataclasses reach the fallback handler, as they did with `json.dumps`."""


def _json_dumps(obj: Any, **_: Any) -> str:
    """orjson for the JSON lines (several times faster than `json.dumps`, which the worker
    paid on every score change); what orjson refuses (an int beyond 64 bits, ...) goes
    through the stdlib like before. Unknown objects render as structlog's fallback does."""
    try:
        return orjson.dumps(obj, default=_json_fallback_handler, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(obj, default=_json_fallback_handler)


def _rendering(fmt: str) -> list[Any]:
    """The end of every line's processor chain, ours and the libraries': scrub, render, scrub."""
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    return [structlog_scrubber, renderer, _redact_rendered]


def logging_config(fmt: str = "json", level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping that sends stdlib logs through structlog."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *_rendering(fmt),
                ],
                "foreign_pre_chain": [
                    structlog.contextvars.merge_contextvars,
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info,
                ],
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # Client libraries are chatty at INFO about every reconnect.
            "aiokafka": {"level": "WARNING"},
            "kafka": {"level": "WARNING"},
            "faust": {"level": "WARNING" if level == "info" else level.upper()},
            "mode": {"level": "WARNING" if level == "info" else level.upper()},
        },
    }


class _LineWriter:
    """structlog's final logger for vendorwatch's own lines: one write per rendered line.

    Why not through stdlib logging like the libraries' lines: the round trip (a LogRecord, the
    handler chain, a formatter that re-enters structlog) cost ~50 µs per line, and the worker
    writes one `score_changed` line per score change. Lines go to the stream of the handler
    `configure_logging` installed last, under that handler's own lock, so they never interleave
    with a library's line, and a logger cached before a reconfiguration follows it.
    """

    __slots__ = ("name",)

    handler: ClassVar[logging.StreamHandler[TextIO] | None] = None
    level: ClassVar[int] = logging.INFO

    def __init__(self, name: str) -> None:
        self.name = name
        """Read by `structlog.stdlib.add_logger_name`, as a stdlib logger's would be."""

    def msg(self, message: str) -> None:
        handler = _LineWriter.handler
        if handler is None or handler.lock is None:
            return
        with handler.lock:
            handler.stream.write(message + "\n")
            handler.stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _line_writer(name: str | None = None, *_: Any) -> _LineWriter:
    return _LineWriter(name or "root")


def enabled(level: int) -> bool:
    """Whether our lines at `level` are written: lets a hot path skip building a line that
    the first processor would drop (a debug call still costs ~15 µs of structlog)."""
    return level >= _LineWriter.level


def _below_level(_: Any, method: str, event_dict: Any) -> Any:
    """Drop a line below the configured level before any other processor runs (the level is
    read per line, so a logger cached before a reconfiguration follows it too)."""
    if structlog.processors.NAME_TO_LEVEL.get(method, logging.CRITICAL) < _LineWriter.level:
        raise structlog.DropEvent
    return event_dict


def configure_logging(fmt: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog and stdlib logging once per process."""
    config = logging_config(fmt, level)
    if stream is not None:
        config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    # No line prints where it was logged from (file, function, line number), so stdlib logging
    # need not walk the stack for every record (the documented `_srcfile` switch).
    logging._srcfile = None  # type: ignore[attr-defined]
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    _LineWriter.handler = handler
    _LineWriter.level = logging.getLevelName(level.upper())

    structlog.configure(
        processors=[
            _below_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            *_rendering(fmt),
        ],
        logger_factory=_line_writer,
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=True,
    )
    logging.captureWarnings(True)  # `warnings.warn` text goes through the formatter too
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Log an exception that is about to end the process as one (JSON) line, then exit as usual.

    The interpreter's default hook prints a multi-line traceback, which a JSON log pipeline
    splits into unparseable fragments; Ctrl-C keeps its short default rendering.
    """
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    structlog.get_logger("vendorwatch").critical("uncaught_exception", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """The same for an exception that ends a thread (the process goes on)."""
    if args.exc_type is SystemExit:
        return
    structlog.get_logger("vendorwatch").error(
        "uncaught_exception_in_thread",
        thread=args.thread.name if args.thread else None,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
