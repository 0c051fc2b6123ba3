"""The `demo` and `simulate` commands of `aftersales` (wired into cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from devtools.place import Place

COMMANDS = ("demo", "simulate")
SCAN_STATUSES = ["picked_up", "in_transit", "out_for_delivery", "delivered", "exception"]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--url", help="the API (default: AFTERSALES_URL, else http://127.0.0.1:8000)"
    )
    where.add_argument(
        "--data-dir",
        type=Path,
        help="`make run`'s data directory, where its keys are (default: AFTERSALES_DATA_DIR, "
        "else .data)",
    )
    demo = sub.add_parser(
        "demo",
        parents=[where],
        help="seed a running development stack with a retailer, a repair center, products "
        "and cases; print their keys and links (again on later runs: nothing new is made)",
    )
    demo.add_argument(
        "--env",
        action="store_true",
        help="print only `export` lines (AFTERSALES_URL, SHOP_KEY, CENTER_KEY, CENTER_ID) "
        'for `eval "$(aftersales demo --env)"`',
    )
    simulate = sub.add_parser("simulate", help="play the carrier on a development stack")
    simulated = simulate.add_subparsers(dest="simulate_command", required=True)
    scan = simulated.add_parser(
        "scan",
        parents=[where],
        help="send a carrier event for a parcel, signed as the carrier signs it",
    )
    scan.add_argument("tracking_number")
    scan.add_argument("status", choices=SCAN_STATUSES)
    scan.add_argument("--event-id", help="the event's id (default: a new one)")
    advance = simulated.add_parser(
        "advance",
        parents=[where],
        help="move a case's parcel one step (collected → in transit → delivered) and wait "
        "until the case has taken it",
    )
    advance.add_argument("case_id", help="RMA-…, REP-…, RPL-…, REL-…")


def run(args: argparse.Namespace) -> int:
    place = Place.of(args.url, args.data_dir)
    if args.command == "demo":
        from devtools.demo import demo_command

        return demo_command(place, args.env)
    from devtools.simulate import advance_command, scan_command

    if args.simulate_command == "scan":
        return scan_command(place, args.tracking_number, args.status, args.event_id)
    return advance_command(place, args.case_id)
