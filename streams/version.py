"""The installed vendorwatch version, for `--version`, `/healthz` and `build_info`."""

from __future__ import annotations

import importlib.metadata


def package_version() -> str:
    """The version of the installed distribution ("0+unknown" when run from a bare checkout)."""
    try:
        return importlib.metadata.version("vendorwatch")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
