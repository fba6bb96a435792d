"""The records vendorwatch publishes, built in one place.

Why here: the live score step and replay's rebuild both write `vendorwatch.scores`, and the read
view, the API and the dashboards read the same fields whoever wrote them. With one builder
there is nothing to keep equal. Pure: the caller passes `published_at` (its wall clock), so the
core reads no clock.
"""

from __future__ import annotations

from typing import Any

from vendorwatch.streams.core.scoring import Score


def score_record(
    current: Score, previous: Score | None, caused_by: str, *, published_at: float
) -> dict[str, Any]:
    """The JSON-ready record published on `vendorwatch.scores` for a score change: the score,
    the event that caused it, the score it replaced and when it was published (epoch seconds).

    `updated_at` is what the API shows (streams/worker/web.py): the score's event time, `as_of`,
    not the wall clock.
    """
    record = current.to_dict()
    record["updated_at"] = record["as_of"]
    record["caused_by"] = caused_by
    record["previous_score"] = previous.score if previous else None
    record["previous_severity"] = previous.severity if previous else None
    record["published_at"] = published_at
    return record
