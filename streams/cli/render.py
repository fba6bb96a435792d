"""Terminal rendering of scores for people (rich); machines get `--json` instead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import Score

SEVERITY_STYLES = {
    "info": "dim",
    "low": "green",
    "medium": "yellow",
    "high": "bold dark_orange",
    "critical": "bold white on red",
}


def reasons(score: Score, limit: int = 3) -> Text:
    """The top contributions as readable lines: points, signal, what happened."""
    text = Text()
    for i, c in enumerate(score.contributions[:limit]):
        if i:
            text.append("\n")
        text.append(f"{c.points:+.1f} {c.signal}", style="bold")
        text.append(f"  {c.detail}", style="")
    if not score.contributions:
        text.append("no active signals", style="dim")
    return text


def scores_table(
    scores: Sequence[Score], policy: Policy, as_of: datetime | None = None, title: str = ""
) -> Table:
    """A table of vendors by score with severity colours and the reasons behind each score."""
    when = as_of.isoformat().replace("+00:00", "Z") if as_of else "latest event"
    table = Table(
        title=title or f"vendor risk as of {when}",
        caption=f"policy {policy.label} ({policy.version})",
        show_lines=True,
        expand=False,
    )
    table.add_column("#", justify="right", style="dim")
    table.add_column("vendor")
    table.add_column("score", justify="right")
    table.add_column("severity")
    table.add_column("data at stake", justify="right")
    table.add_column("why")
    for rank, s in enumerate(scores, start=1):
        table.add_row(
            str(rank),
            Text(f"{s.vendor_id}\n{s.name}" if s.name != s.vendor_id else s.vendor_id),
            f"{s.score:.1f}",
            Text(s.severity, style=SEVERITY_STYLES[s.severity]),
            f"{s.data_at_stake:.0%}",
            reasons(s),
        )
    return table
