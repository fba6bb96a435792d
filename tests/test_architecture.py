"""The shape of the code holds: no import cycles between modules, and offline commands start
without Faust or a Kafka client (the import contracts in pyproject.toml check the static side;
these tests check what actually happens)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT_PACKAGES = ("vendorwatch.schemas", "vendorwatch.streams", "vendorwatch.alerts")
HEAVY = ("faust", "mode", "aiokafka", "kafka", "aiohttp", "httpx")


def import_cycles(*packages: str) -> list[list[str]]:
    """Strongly connected components of more than one module in the packages' import graph."""
    graph = grimp.build_graph(*packages)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        # Tarjan's algorithm; the graph has ~130 modules, so recursion depth is no concern
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    assert import_cycles(*ROOT_PACKAGES) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    """The check above can fail: a two-module cycle in a scratch package is reported."""
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic_pkg import b\n")
    (package / "b.py").write_text("from cyclic_pkg import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert import_cycles("cyclic_pkg") == [["cyclic_pkg.a", "cyclic_pkg.b"]]
    finally:
        sys.path.remove(str(tmp_path))


def loaded_by(*argv: str) -> set[str]:
    """Top-level packages a `vendorwatch ...` run has imported when it finishes."""
    probe = (
        "import sys\n"
        f"sys.argv = ['vendorwatch', *{list(argv)!r}]\n"
        "from vendorwatch.streams.cli import main\n"
        "try:\n"
        "    main.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stderr.split()[-200:]) if done.stderr else set()


def test_offline_commands_start_without_faust_or_a_kafka_client(tmp_path: Path) -> None:
    for argv in (
        ("score", "--scenario", "demo", "--json"),
        ("schemas", "export", str(tmp_path / "json")),
    ):
        loaded = loaded_by(*argv)
        assert "vendorwatch" in loaded, argv
        assert not loaded & set(HEAVY), (argv, sorted(loaded & set(HEAVY)))


def test_a_kafka_command_does_load_its_client() -> None:
    """The probe sees imports: `ingest --help` pulls in the Kafka client it would use."""
    assert "kafka" in loaded_by("ingest", "--help")
