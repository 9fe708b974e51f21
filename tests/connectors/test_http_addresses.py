"""The address check alone: no test here opens a connection."""

from __future__ import annotations

import ipaddress

import pytest

from connectors.http import AllowList, BlockedAddress, HttpPolicy, check_address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("192.0.0.8", "IETF protocol assignments"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, private"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254"),
        ("::a9fe:a9fe", "IPv4-compatible"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254, link-local"),
        ("64:ff9b::a00:1", "NAT64 form of 10.0.0.1, private"),
        ("64:ff9b:1::a9fe:a9fe", "local-use NAT64"),
        ("2002:a9fe:a9fe::1", "6to4 tunnel wrapping 169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel wrapping 192.0.2.45"),
        ("2001:2::1", "IETF protocol assignments"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("100::1", "discard-only"),
    ],
)
def test_special_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    with pytest.raises(BlockedAddress) as caught:
        check_address(address)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700::1111",
        "2a00:1450:4001:82a::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ],
)
def test_public_unicast_addresses_pass(address: str) -> None:
    check_address(address)


@pytest.mark.parametrize(
    "address", ["224.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "192.0.0.8"]
)
def test_addresses_the_stdlib_calls_global_are_still_refused(address: str) -> None:
    # The reason the deny-list is explicit: `is_global` says yes to all of these on 3.11.
    assert ipaddress.ip_address(address).is_global
    with pytest.raises(BlockedAddress):
        check_address(address)


def test_allow_list_admits_listed_addresses_and_networks() -> None:
    allow = AllowList.parse(["127.0.0.1", "10.1.0.0/16", "[fd00::5]"])
    check_address("127.0.0.1", allow)
    check_address("10.1.200.3", allow)
    check_address("fd00::5", allow)
    with pytest.raises(BlockedAddress):
        check_address("10.2.0.1", allow)
    with pytest.raises(BlockedAddress):
        check_address("127.0.0.2", allow)


def test_allowed_ipv4_does_not_admit_its_ipv6_wrappings() -> None:
    allow = AllowList.parse(["127.0.0.1", "169.254.169.254"])
    for wrapped in ("::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"):
        with pytest.raises(BlockedAddress):
            check_address(wrapped, allow)


def test_allow_list_matches_names_exactly() -> None:
    allow = AllowList.parse(["Forum.Internal."])
    assert allow.admits_name("forum.internal")
    assert allow.admits_name("FORUM.internal.")
    assert not allow.admits_name("evil.forum.internal")
    assert not allow.admits_name("localhost")


@pytest.mark.parametrize("entry", ["0.0.0.0/0", "::/0", "128.0.0.0/1", "*", "*.internal", ""])
def test_allow_list_refuses_entries_that_would_switch_the_guard_off(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowList.parse([entry])


def test_policy_refuses_a_bare_string_allow_list() -> None:
    with pytest.raises(TypeError):
        HttpPolicy(allow_hosts="127.0.0.1")  # type: ignore[arg-type]


def test_policy_parses_its_allow_list() -> None:
    policy = HttpPolicy(allow_hosts=("forum.lan", "10.0.0.0/8"))
    assert policy.allow.admits_name("forum.lan")
    assert policy.allow.admits_address(ipaddress.ip_address("10.9.8.7"))
