"""Which webhook targets production refuses: anything that is not a public address."""

from __future__ import annotations

import pytest

from domain.webhook_targets import is_public, literal_problem


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.8", "172.16.4.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "224.0.0.1", "not-an-ip"],
)  # fmt: skip
def test_private_reserved_and_malformed_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_routable_addresses_are_public(address: str) -> None:
    assert is_public(address)


def test_literal_hosts_are_judged_before_any_lookup() -> None:
    assert literal_problem("localhost") and literal_problem("api.localhost")
    assert literal_problem("127.0.0.1") and literal_problem("[::1]")
    assert literal_problem("8.8.8.8") is None
    assert literal_problem("hooks.example.com") is None  # only its addresses can tell
