"""docker-compose.yml and the Dockerfile, checked for structure (no Docker engine needed).

The stack: PostgreSQL, Temporal on PostgreSQL, its UI, a one-shot migration, the API and the
worker. These tests read the files as data and check that the pieces point at each other:
the same database credentials everywhere, the Temporal address on the Temporal service's
port, a shared documents volume, required secrets, and only settings that exist.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("migrate", "api", "worker")
LONG_RUNNING = ("api", "worker")
SECRETS = (
    "AFTERSALES_ADMIN_KEY",
    "AFTERSALES_CARRIER_SECRET",
    "AFTERSALES_PAYLOAD_KEY",
    "AFTERSALES_SECRETS_KEY",
)
# A well-formed payload key (id `k1`, 32 bytes): the settings refuse anything else.
HOST_PAYLOAD_KEY = "k1:" + "QUJD" * 10 + "QUI="
HOST_SECRETS_KEY = "k1:" + "REVG" * 10 + "REU="
TEMPORAL_SERVICES = ("temporal", "temporal-ui")
LOOPBACK = {"127.0.0.1", "::1", "[::1]", "localhost"}
ALL_SERVICES = ("postgres", "temporal", "temporal-ui", *APP_SERVICES)

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


def resolved_environment(service: Mapping[str, Any], host_env: Mapping[str, str]) -> dict[str, str]:
    return {key: interpolate(value, host_env) for key, value in environment(service).items()}


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


def host_env_with_secrets() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AFTERSALES_")}
    env.update({name: f"test-{name.lower()}" for name in SECRETS})
    env["AFTERSALES_PAYLOAD_KEY"] = HOST_PAYLOAD_KEY
    env["AFTERSALES_SECRETS_KEY"] = HOST_SECRETS_KEY
    return env


# ------------------------------------------------------------------------ services


def test_every_service_is_defined(services: dict[str, Any]) -> None:
    assert set(ALL_SERVICES) <= set(services), set(ALL_SERVICES) - set(services)


def test_third_party_images_are_pinned(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    for name, repo in (("temporal", "temporalio/auto-setup"), ("temporal-ui", "temporalio/ui")):
        image, _, tag = services[name]["image"].partition(":")
        assert image == repo
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{name} must pin a version, not {tag!r}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_from_the_repo_dockerfile(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert "build" in service, f"{name} must build the repo's image"
    path = dockerfile_for(service)
    assert path == ROOT / "Dockerfile"
    assert path.is_file()
    keywords = {keyword for keyword, _ in dockerfile_instructions(path)}
    assert keywords & {"CMD", "ENTRYPOINT"}


@pytest.mark.parametrize(
    ("name", "command"), [("migrate", "migrate"), ("api", "api"), ("worker", "worker")]
)
def test_app_services_run_their_aftersales_command(
    services: dict[str, Any], name: str, command: str
) -> None:
    cmd = services[name]["command"]
    argv = cmd.split() if isinstance(cmd, str) else list(cmd)
    assert argv == ["aftersales", command]


@pytest.mark.parametrize("command", ["api", "worker", "migrate"])
def test_the_commands_exist_in_the_cli(command: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["aftersales"] == "cli:main"
    import cli

    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0


def test_migrate_runs_once(services: dict[str, Any]) -> None:
    assert services["migrate"].get("restart", "no") == "no"
    assert depends_on(services["migrate"]) == {"postgres": "service_healthy"}


def test_published_ports(services: dict[str, Any]) -> None:
    assert (8000, 8000) in published_ports(services["api"])
    assert (8080, 8080) in published_ports(services["temporal-ui"])
    assert (7233, 7233) in published_ports(services["temporal"])


@pytest.mark.parametrize("name", TEMPORAL_SERVICES)
def test_temporal_is_published_on_loopback_only(services: dict[str, Any], name: str) -> None:
    # Temporal's gRPC and UI have no authentication: on every interface, anyone who reaches
    # the host could read, signal or terminate any case.
    ips = published_host_ips(services[name])
    assert ips, f"{name} publishes no port"
    assert all(ip in LOOPBACK for ip in ips), (name, services[name]["ports"])


def test_no_other_service_publishes_temporal_ports(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name in TEMPORAL_SERVICES:
            continue
        targets = {target for _, target in published_ports(service)}
        assert not targets & {7233, 8080, 8233}, name


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


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_api_and_worker_wait_for_migrations_and_temporal(
    services: dict[str, Any], name: str
) -> None:
    deps = depends_on(services[name])
    assert deps.get("migrate") == "service_completed_successfully"
    assert deps.get("temporal") == "service_healthy"


def test_temporal_waits_for_postgres_and_the_ui_for_temporal(services: dict[str, Any]) -> None:
    assert depends_on(services["temporal"]).get("postgres") == "service_healthy"
    assert "temporal" in depends_on(services["temporal-ui"])
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_temporal_persists_in_the_postgres_service(services: dict[str, Any]) -> None:
    temporal = environment(services["temporal"])
    postgres = environment(services["postgres"])
    assert temporal["DB"] == "postgres12"
    assert temporal["DB_PORT"] == "5432"
    seeds = [seed.strip() for seed in temporal["POSTGRES_SEEDS"].split(",")]
    assert seeds == ["postgres"]
    assert temporal["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert temporal["POSTGRES_PWD"] == postgres["POSTGRES_PASSWORD"]


def test_every_awaited_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    awaited = {
        dep
        for service in services.values()
        for dep, condition in depends_on(service).items()
        if condition == "service_healthy"
    }
    assert {"postgres", "temporal"} <= awaited
    for name in awaited:
        check = services[name].get("healthcheck") or {}
        assert check.get("test"), f"{name} is awaited as healthy but has no healthcheck"
        assert not check.get("disable"), name


def test_healthchecks_probe_the_right_things(services: dict[str, Any]) -> None:
    def text(name: str) -> str:
        test = services[name]["healthcheck"]["test"]
        return test if isinstance(test, str) else " ".join(test)

    assert "pg_isready" in text("postgres")
    assert re.search(r"temporal operator cluster health|tctl .*cluster health", text("temporal"))
    api = text("api")
    assert "http://127.0.0.1:8000/healthz" in api
    assert "curl" not in api and "wget" not in api  # python:3.11-slim has neither


def test_every_depends_on_names_a_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dep in depends_on(service):
            assert dep in services, f"{name} depends on unknown service {dep}"


# ------------------------------------------------------------------------- settings


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_one_environment(services: dict[str, Any], name: str) -> None:
    assert environment(services[name]) == environment(services["api"])


def test_the_environment_comes_from_the_anchor(raw: str) -> None:
    assert re.search(r"^x-aftersales-env: &aftersales-env\s*$", raw, re.MULTILINE)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_database_url_points_at_the_postgres_service(services: dict[str, Any], name: str) -> None:
    postgres = environment(services["postgres"])
    url = make_url(environment(services[name])["AFTERSALES_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgres" and url.host in services
    assert (url.port or 5432) == 5432
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.database == postgres["POSTGRES_DB"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_temporal_address_points_at_the_temporal_service(
    services: dict[str, Any], name: str
) -> None:
    host, _, port = environment(services[name])["AFTERSALES_TEMPORAL_ADDRESS"].rpartition(":")
    assert host == "temporal"
    assert int(port) in {target for _, target in published_ports(services["temporal"])}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_production_mode(services: dict[str, Any], name: str) -> None:
    assert environment(services[name])["AFTERSALES_ENV"] == "production"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_api_and_worker_get_the_payload_key(services: dict[str, Any], name: str) -> None:
    # Both must hold the same keys: the API starts workflows and reads their answers, the
    # worker runs them; one without the key could read neither.
    env = environment(services[name])
    assert (
        env["AFTERSALES_PAYLOAD_KEY"] == environment(services["worker"])["AFTERSALES_PAYLOAD_KEY"]
    )
    resolved = resolved_environment(services[name], host_env_with_secrets())
    assert resolved["AFTERSALES_PAYLOAD_KEY"] == HOST_PAYLOAD_KEY


def test_api_listens_on_every_interface_of_its_container(services: dict[str, Any]) -> None:
    env = environment(services["api"])
    assert env["AFTERSALES_API_HOST"] == "0.0.0.0"
    assert int(env["AFTERSALES_API_PORT"]) == 8000


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


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_required_interpolations(
    raw: str, services: dict[str, Any], secret: str
) -> None:
    for name in APP_SERVICES:
        value = environment(services[name])[secret]
        assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", value), (name, value)
        with pytest.raises(LookupError):
            interpolate(value, {})
        with pytest.raises(LookupError):
            interpolate(value, {secret: ""})
    # No fallback anywhere in the file, and none of the development secrets.
    assert not re.search(rf"\$\{{{secret}:?-", raw)
    from settings import DEV_ADMIN_KEY, DEV_CARRIER_SECRET, DEV_PAYLOAD_KEY, DEV_SECRETS_KEY

    assert DEV_ADMIN_KEY not in raw and DEV_CARRIER_SECRET not in raw
    assert DEV_PAYLOAD_KEY.split(":")[1] not in raw
    assert DEV_SECRETS_KEY.split(":")[1] not in raw


def test_every_aftersales_variable_is_a_real_setting(raw: str, services: dict[str, Any]) -> None:
    from settings import Settings

    known = {f"AFTERSALES_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\bAFTERSALES_[A-Z0-9_]+\b", raw))
    for service in services.values():
        used |= {key for key in environment(service) if key.startswith("AFTERSALES_")}
    assert used, "the compose file sets no AFTERSALES_ variables"
    assert used <= known, f"not settings: {sorted(used - known)}"


def test_the_compose_environment_makes_valid_production_settings(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from settings import Settings

    for key in list(os.environ):
        if key.startswith("AFTERSALES_"):
            monkeypatch.delenv(key)
    for key, value in resolved_environment(services["api"], host_env_with_secrets()).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.env == "production"
    assert settings.admin_key == "test-aftersales_admin_key"
    assert settings.carrier_secret == "test-aftersales_carrier_secret"
    assert settings.payload_key == HOST_PAYLOAD_KEY
    assert settings.secrets_key == HOST_SECRETS_KEY
    assert settings.api_port == 8000
    assert str(settings.document_dir) == "/var/lib/aftersales/documents"
    assert settings.public_base_url.startswith("http")


# ----------------------------------------------------------------------- Dockerfile


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(ROOT / "Dockerfile")


def test_dockerfile_shape(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert froms and froms[-1].split()[0].startswith("python:3.11-slim")
    assert ("WORKDIR", "/app") in dockerfile
    assert any(keyword == "COPY" and args.startswith(". ") for keyword, args in dockerfile)
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "pip install" in runs
    env = " ".join(args for keyword, args in dockerfile if keyword == "ENV")
    assert "--no-cache-dir" in runs or "PIP_NO_CACHE_DIR=1" in env
    assert ("CMD", '["aftersales", "api"]') in dockerfile


def test_dockerfile_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    assert users, "the image must switch to a non-root user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # USER comes after every RUN that needs root.
    last_user = max(i for i, (keyword, _) in enumerate(dockerfile) if keyword == "USER")
    last_run = max(i for i, (keyword, _) in enumerate(dockerfile) if keyword == "RUN")
    assert last_user > last_run


def test_dockerfile_prepares_the_documents_dir_for_the_volume(
    dockerfile: list[tuple[str, str]], services: dict[str, Any]
) -> None:
    # A new named volume copies the image's directory (and its owner): it must exist in the
    # image and belong to the app user, or the worker cannot write PDFs.
    document_dir = environment(services["worker"])["AFTERSALES_DOCUMENT_DIR"]
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert f"mkdir -p {document_dir}" in runs
    assert "chown" in runs


def test_dockerignore_keeps_local_state_out() -> None:
    lines = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".git", ".venv", ".data", "**/__pycache__", ".pytest_cache", "*.egg-info"):
        assert entry in lines, entry
    for needed in ("pyproject.toml", "alembic.ini", "migrations", "cli.py"):
        assert needed not in lines, needed


# ------------------------------------------------------------- docker compose config


def _compose_cli_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_cli_works(), reason="the docker compose CLI is not installed")
def test_docker_compose_config_validates() -> None:
    """`docker compose config` needs no engine: it checks the schema and interpolation."""
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"]
    ok = subprocess.run(command, env=host_env_with_secrets(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    missing = {key: value for key, value in host_env_with_secrets().items() if key not in SECRETS}
    refused = subprocess.run(command, env=missing, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "AFTERSALES_ADMIN_KEY" in refused.stderr or "AFTERSALES_CARRIER_SECRET" in refused.stderr
