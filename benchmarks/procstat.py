"""What a process has cost so far, read from Linux /proc: shared by the benchmark scripts.

The benchmarks compare processes that share one machine (a worker, the embedded broker, the
script itself), so they read each one's own counters instead of timing wall clocks alone.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes() -> int | None:
    """Resident set size of this process (None where there is no /proc)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")
