"""Logging: structlog for our lines, the same formatter for Faust, aiokafka and kafka-python.

JSON lines in production (`VENDORWATCH_LOG_FORMAT=json`), readable console lines for people.
A processor masks every registered secret value (webhook URLs, tokens; see `alerts.redact`)
wherever it appears in a line, before and after rendering, so a secret that slips into an
exception message or a library's log still never reaches the output.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any, TextIO

import structlog

from vendorwatch.alerts.redact import register_secret, scrub, structlog_scrubber

__all__ = ["configure_logging", "logging_config", "register_secret"]


def _redact_rendered(_: Any, __: str, rendered: Any) -> Any:
    """Scrub the rendered line too: a secret inside a nested value is caught here."""
    return scrub(rendered) if isinstance(rendered, str) else rendered


def logging_config(fmt: str = "json", level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping that sends stdlib logs through structlog."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog_scrubber,
                    renderer,
                    _redact_rendered,
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


def configure_logging(fmt: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog and stdlib logging once per process."""
    config = logging_config(fmt, level)
    if stream is not None:
        config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
