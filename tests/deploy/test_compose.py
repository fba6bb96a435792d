"""docker-compose.yml, the worker Dockerfile and .dockerignore, checked without a Docker engine.

There is no Docker here, so the checks are the ones that do not need it: the compose file validates
against the Compose Specification's own JSON Schema (vendored, see compose-spec.NOTICE.md), its
bind mounts exist, the worker image runs real subcommands, the topics it creates are the ones
streams/kafka_io/topics.py declares, and the image's HEALTHCHECK command behaves against a real
HTTP server.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml

from vendorwatch.streams.cli import main as cli
from vendorwatch.streams.kafka_io.topics import ALL_TOPICS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
SCHEMA = Path(__file__).with_name("compose-spec.json")

VENDORWATCH_SUBCOMMANDS: dict[str, set[str]] = {
    "worker": set(),
    "broker": set(),
    "demo": set(),
    "ingest": set(),
    "score": set(),
    "replay": set(),
    "silence": {"add", "list", "expire"},
    "schemas": {"export"},
    "feeds": {"run"},
}
"""The `vendorwatch` commands a deployment may run (command -> its subcommands); each must match
`vendorwatch --help`, which test_worker_commands_exist_in_the_real_cli checks for the ones used."""

WORKER_ENV = {
    "BOOTSTRAP_SERVERS",
    "REPLICATION_FACTOR",
    "WEB_HOST",
    "WEB_PORT",
    "DATA_DIR",
    "POLICY",
    "PARTITIONS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "INGEST_TOKEN",
    "SLACK_WEBHOOK_URL",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "ALERTMANAGER_URL",
}
"""Settings the worker reads, without the VENDORWATCH_ prefix."""

SECRET_ENV = {"INGEST_TOKEN", "SLACK_WEBHOOK_URL", "WEBHOOK_URL", "WEBHOOK_SECRET"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _worker_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the vendorwatch image: built from deploy/Dockerfile or tagged like it."""
    built = {
        name: service
        for name, service in compose["services"].items()
        if isinstance(service.get("build"), dict)
        and service["build"].get("dockerfile") == "deploy/Dockerfile"
    }
    tags = {service.get("image") for service in built.values()} - {None}
    return {
        name: service
        for name, service in compose["services"].items()
        if name in built or service.get("image") in tags
    }


def test_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    """The vendored schema has teeth: a misspelt key and a bad condition are errors."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["restat"] = "always"
    broken["services"]["worker"]["depends_on"]["kafka"]["condition"] = "service_ready"
    assert len(list(jsonschema.Draft202012Validator(schema).iter_errors(broken))) >= 1


def test_every_bind_mount_exists_in_the_repository(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source in named:
                continue
            assert source.startswith("./"), f"{name}: {source} is neither a named volume nor ./"
            assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"


def test_worker_services_run_real_subcommands(compose: dict[str, Any]) -> None:
    workers = _worker_services(compose)
    assert "worker" in workers
    for name, service in workers.items():
        command = service.get("command", ["worker"])
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        assert argv, name
        assert argv[0] in VENDORWATCH_SUBCOMMANDS, f"{name} runs `vendorwatch {argv[0]}`"
        nested = VENDORWATCH_SUBCOMMANDS[argv[0]]
        if nested:
            assert len(argv) > 1, f"{name}: `vendorwatch {argv[0]}` needs a subcommand"
            assert argv[1] in nested, f"{name} runs `vendorwatch {argv[0]} {argv[1]}`"
    assert workers["worker"]["command"] == ["worker"]


def test_worker_commands_exist_in_the_real_cli(compose: dict[str, Any]) -> None:
    """The CLI as implemented offers every command (and subcommand) compose runs."""
    cli.load_commands([])
    commands = typer.main.get_command(cli.app).commands
    for name, service in _worker_services(compose).items():
        argv = service.get("command", ["worker"])
        assert argv[0] in commands, f"{name} runs `vendorwatch {argv[0]}`, which does not exist"
        nested = getattr(commands[argv[0]], "commands", None)
        if nested:
            assert argv[1] in nested, f"{name} runs `vendorwatch {argv[0]} {argv[1]}`"


def test_the_worker_scales(compose: dict[str, Any]) -> None:
    """`--scale worker=N` fails on a fixed container name or a single fixed host port; a range
    (one free port per replica) or an ephemeral port scales."""
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    for port in worker.get("ports", []):
        if isinstance(port, dict):
            published = str(port.get("published") or "")
        else:  # [ip:]published:target, or target alone; an empty published port is ephemeral
            parts = str(port).split(":")
            published = parts[-2] if len(parts) > 1 else ""
        assert not published or "-" in published, f"worker publishes a fixed host port: {port}"


def test_the_worker_api_is_published_on_loopback(compose: dict[str, Any]) -> None:
    (port,) = compose["services"]["worker"]["ports"]
    host, published, target = str(port).split(":")
    assert host == "127.0.0.1"
    assert target == compose["services"]["worker"]["environment"]["VENDORWATCH_WEB_PORT"]
    first, last = (int(p) for p in published.split("-"))
    assert first == 6066
    assert last > first


def test_worker_environment_and_secrets(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    env = worker["environment"]
    assert env["VENDORWATCH_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["VENDORWATCH_WEB_PORT"] == "6066"
    assert env["VENDORWATCH_WEB_HOST"] == "0.0.0.0"
    for key in env:
        assert key.startswith("VENDORWATCH_"), key
        assert key.removeprefix("VENDORWATCH_") in WORKER_ENV, key
    # Secrets come from worker.env only, never from the committed file, and the workers do not
    # receive .env (which holds Grafana's admin password for interpolation)
    assert worker["env_file"] == [{"path": "worker.env", "required": True}]
    assert not {k.removeprefix("VENDORWATCH_") for k in env} & SECRET_ENV
    example = (REPO / "deploy" / "worker.env.example").read_text(encoding="utf-8")
    for secret in SECRET_ENV:
        assert re.search(rf"^#? ?VENDORWATCH_{secret}=", example, re.MULTILINE), secret
    assert "GRAFANA" not in example
    compose_env = (REPO / "deploy" / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^GRAFANA_ADMIN_PASSWORD=", compose_env, re.MULTILINE)
    assert not re.search(r"^#? ?VENDORWATCH_(INGEST_TOKEN|WEBHOOK|SLACK)", compose_env, re.M)
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert {".env", "worker.env"} <= set(ignored)


def test_no_service_receives_the_compose_variables_file(compose: dict[str, Any]) -> None:
    """.env is for ${...} in the compose file; a service given it whole would hold every
    secret in it (the workers would hold Grafana's admin password)."""
    for name, service in compose["services"].items():
        files = service.get("env_file", [])
        files = [files] if isinstance(files, str) else files
        paths = {f if isinstance(f, str) else f["path"] for f in files}
        assert ".env" not in paths, name
    grafana = compose["services"]["grafana"]["environment"]
    assert "GRAFANA_ADMIN_PASSWORD" in grafana["GF_SECURITY_ADMIN_PASSWORD"]
    worker = compose["services"]["worker"]["environment"]
    assert not any("GRAFANA" in str(value) for value in worker.values())


def test_worker_waits_for_kafka_and_topics(compose: dict[str, Any]) -> None:
    depends = compose["services"]["worker"]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"
    for name in ("kafka", "prometheus", "alertmanager", "grafana"):
        assert "healthcheck" in compose["services"][name], name


def _created_topics(compose: dict[str, Any]) -> dict[str, int]:
    script = "\n".join(compose["services"]["topics"]["command"])
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\s*create (\S+) (-?\d+)\s*$", script, re.MULTILINE)
    }


def test_topics_created_match_streams_topics(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["image"] == compose["services"]["kafka"]["image"]
    script = "\n".join(topics["command"])
    assert "/opt/kafka/bin/kafka-topics.sh" in script
    assert "--if-not-exists" in script
    assert _created_topics(compose) == {t.name: t.retention_ms for t in ALL_TOPICS}
    assert _created_topics(compose)["vendorwatch.events"] == -1


def test_kafka_is_single_node_kraft_with_a_persistent_volume(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert tuple(int(p) for p in tag.split(".")[:3]) >= (3, 9, 1)
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # The storage tool wants 16 bytes as URL-safe base64 without padding.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert f"kafka-data:{env['KAFKA_LOG_DIRS']}" in kafka["volumes"]


# --- Dockerfile -----------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _healthcheck_argv() -> list[str]:
    (healthcheck,) = [args for keyword, args in _instructions() if keyword == "HEALTHCHECK"]
    return json.loads(healthcheck[healthcheck.index("CMD") + 3 :])


def test_dockerfile_shape() -> None:
    instructions = _instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2, "multi-stage build"
    assert [
        args for keyword, args in instructions if keyword == "ARG" and args.startswith("PYTHON_")
    ] == ["PYTHON_IMAGE=python:3.11-slim"]
    final = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the runtime stage sets a user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("ENTRYPOINT", '["vendorwatch"]') in final
    assert ("CMD", '["worker"]') in final
    assert "6066" in dict(final)["EXPOSE"]
    argv = _healthcheck_argv()
    assert argv[0] == "python"
    # liveness: a worker rebuilding a long history is alive though not ready
    assert "/healthz" in argv[-1]
    assert "/readyz" not in argv[-1]
    assert "6066" in argv[-1]
    build = instructions[: max(i for i, (k, _) in enumerate(instructions) if k == "FROM")]
    installs = [
        found
        for keyword, args in build
        if keyword == "RUN"
        for found in re.findall(r"pip install ['\"]?\.(?:\[([^\]]*)\])?", args)
    ]
    assert installs, "the build stage installs the package"
    extras = {extra.strip() for extra in installs[0].split(",")}
    assert "embedded" not in extras, "the production image leaves the embedded broker out"


def test_dockerignore_sends_the_sources_and_keeps_secrets_out() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list style: everything not named is excluded"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = []
    for keyword, args in _instructions():
        if keyword == "COPY" and "--from" not in args:
            copied += args.split()[:-1]
    assert copied
    for source in copied:
        assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
    assert not {".env", ".git", ".venv", "tests", ".vendorwatch"} & allowed


class _Healthz(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def _serving(status: int) -> Iterator[int]:
    handler = type("Handler", (_Healthz,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _run_healthcheck(port: int) -> int:
    argv = _healthcheck_argv()
    assert argv[:2] == ["python", "-c"]
    env = {"VENDORWATCH_WEB_PORT": str(port), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", argv[2]], env=env, capture_output=True, timeout=30, check=False
    )
    return result.returncode


@pytest.mark.integration  # starts a local HTTP server: not in `make check`
@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_follows_healthz(status: int, healthy: bool) -> None:
    with _serving(status) as port:
        code = _run_healthcheck(port)
    assert (code == 0) is healthy
    assert code in (0, 1), "Docker reserves exit codes other than 0 and 1"


@pytest.mark.integration  # starts (and closes) a local HTTP server
def test_healthcheck_command_fails_when_nothing_listens() -> None:
    with _serving(200) as port:
        pass  # closed again: the port now refuses connections
    assert _run_healthcheck(port) == 1
