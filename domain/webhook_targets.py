"""Where webhooks may be sent: in production only to public addresses, so a subscription
cannot make the worker call into its own network (metadata services, databases, admin
ports)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

# The one answer to a refused target, at subscription and at each attempt: it names no
# address, so the refusal cannot be used to learn what a name resolves to inside.
REFUSED = "webhooks go to public addresses only"

Resolver = Callable[[str], Awaitable[list[str]]]


class TargetRefused(Exception):
    def __init__(self) -> None:
        super().__init__(REFUSED)


async def resolve_host(host: str) -> list[str]:
    """Every address `host` resolves to (an address literal resolves to itself)."""
    found = await asyncio.get_running_loop().getaddrinfo(
        host.strip("[]"), None, type=socket.SOCK_STREAM
    )
    return sorted({str(info[4][0]) for info in found})


async def vetted_addresses(host: str, resolve: Resolver, allow_private: bool) -> list[str]:
    """The addresses to connect to for `host`, resolved once: a connection made to one of
    them goes where the check looked, whatever the name resolves to a moment later. Raises
    TargetRefused when any of them (or the literal host) is not public and private targets
    are not allowed, OSError when the name has no address."""
    if not allow_private and literal_problem(host) is not None:
        raise TargetRefused()
    addresses = await resolve(host.strip("[]"))
    if not addresses:
        raise OSError(f"{host} has no address")
    if not allow_private and not all(is_public(address) for address in addresses):
        raise TargetRefused()
    return addresses


def is_public(address: str) -> bool:
    """True for a globally routable IP address; False for loopback, private, link-local,
    shared, reserved and anything that is not an address at all."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_problem(host: str) -> str | None:
    """Why a URL's host is refused before any lookup (an address literal or localhost that
    is not public), or None when only resolving it can tell."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return None if is_public(name) else f"{host} is not a public address"
