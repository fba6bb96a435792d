"""What the worker's parts share: the `Pipeline` (the Faust app and the objects its agents and
views use) and the raw-bytes topic helper. Kept apart from `app` so the notify step and the
web views can name it without importing the module that wires them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust

from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.settings import Settings
from vendorwatch.streams.worker.view import ScoreView


@dataclass
class Pipeline:
    """A configured Faust app and the objects its agents and web views share."""

    app: faust.App
    settings: Settings
    policy: Policy
    bootstrap_servers: str
    processor: Processor
    view: ScoreView
    raw_topic: Any
    events_topic: Any
    alerts_topic: Any
    alerting: Any = None
    clock: Callable[[], float] = time.time
    """The clock input is judged by (unix seconds): the score step and POST /events both refuse
    an event dated more than `settings.max_future_skew` past it, so they must read the same one
    (a simulated stream clock in the demo and tests). Always called, never replaced by
    `time.time()` at a call site."""


def bytes_topic(app: faust.App, name: str) -> Any:
    """A Faust topic of raw key and value bytes: vendorwatch encodes and decodes JSON itself
    (orjson, and `schemas.codec` at the one door into the domain)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
