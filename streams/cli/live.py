"""The demo's live terminal table: the read view, re-rendered whenever it changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from vendorwatch.streams.cli.render import SEVERITY_STYLES
from vendorwatch.streams.worker.view import ScoreView

Title = str | Callable[[], str]
"""A fixed title, or one read at every redraw (the demo's names the moving stream time)."""


def live_table(view: ScoreView, title: str) -> Table:
    """Vendors by score with severity and the top reasons, from the replicated view."""
    table = Table(title=title, title_style="bold", show_lines=True)
    table.add_column("#", justify="right", style="dim")
    table.add_column("vendor")
    table.add_column("score", justify="right")
    table.add_column("severity")
    table.add_column("as of (event time)")
    table.add_column("why")
    for rank, s in enumerate(view.sorted_scores(), start=1):
        why = Text()
        for i, c in enumerate(s["contributions"][:3]):
            if i:
                why.append("\n")
            why.append(f"{c['points']:+.1f} {c['signal']}", style="bold")
            why.append(f"  {c['detail']}")
        if not s["contributions"]:
            why.append("no active signals", style="dim")
        table.add_row(
            str(rank),
            s["vendor_id"],
            f"{s['score']:.1f}",
            Text(s["severity"], style=SEVERITY_STYLES.get(s["severity"], "")),
            s["as_of"][:10],
            why,
        )
    return table


async def run_live_table(
    view: ScoreView,
    console: Console,
    title: Title,
    footer: Callable[[], Any] | None = None,
    refresh_s: float = 0.5,
    idle_s: float = 2.0,
) -> None:
    """Render the table until cancelled: after each change of the view (at most every
    `refresh_s`), and every `idle_s` without one, so a title or footer that moves on its own
    (a clock) stays current."""

    def frame() -> Group:
        parts: list[Any] = [live_table(view, title() if callable(title) else title)]
        if footer is not None:
            parts.append(footer())
        return Group(*parts)

    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                live.update(frame(), refresh=True)
                view.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(view.changed.wait(), timeout=idle_s)
                await asyncio.sleep(refresh_s)
        finally:
            live.update(frame(), refresh=True)  # the last frame stays on screen
