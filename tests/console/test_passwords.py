"""Console password hashing: RFC 9106's parameters by default, the cheapest only where the
settings ask, and each verifying the other's hashes (a hash carries its parameters)."""

from __future__ import annotations

from argon2 import extract_parameters, profiles

from api.console.passwords import passwords


async def test_the_default_hash_is_argon2id_with_rfc_9106_parameters() -> None:
    stored = await passwords("rfc9106").hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    parameters = extract_parameters(stored)
    assert parameters.memory_cost == profiles.RFC_9106_LOW_MEMORY.memory_cost == 65536
    assert parameters.time_cost == profiles.RFC_9106_LOW_MEMORY.time_cost
    assert parameters.parallelism == profiles.RFC_9106_LOW_MEMORY.parallelism


async def test_either_setting_verifies_the_others_hashes() -> None:
    standard, minimal = passwords("rfc9106"), passwords("minimal")
    made_cheaply = await minimal.hash("correct horse battery")
    assert extract_parameters(made_cheaply).memory_cost == profiles.CHEAPEST.memory_cost
    assert await standard.verify(made_cheaply, "correct horse battery")
    assert not await standard.verify(made_cheaply, "correct horse battery!")
    made_properly = await standard.hash("correct horse battery")
    assert await minimal.verify(made_properly, "correct horse battery")


async def test_no_such_user_is_never_verified() -> None:
    for hashing in ("rfc9106", "minimal"):
        hasher = passwords(hashing)
        assert not await hasher.verify(None, "not anyone's password")
        assert not await hasher.verify("not a hash", "anything")
