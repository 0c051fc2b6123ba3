"""Where webhooks may be sent: in production only to public addresses, so a subscription
cannot make the worker call into its own network (metadata services, databases, admin
ports)."""

from __future__ import annotations

import ipaddress


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
