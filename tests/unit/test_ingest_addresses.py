"""Address classes the fetcher refuses (catalogue F7, F8), judged after resolution."""

from __future__ import annotations

import pytest

from ingest.addresses import REASONS, refusal_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.254", "cgnat"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("64:ff9b::7f00:1", "nat64"),
        ("64:ff9b:1::a", "nat64"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.170.2", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo around 192.0.2.45
    ],
)
def test_forbidden_addresses_have_a_bounded_reason(address, reason):
    assert refusal_reason(address) == reason
    assert reason in REASONS


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_unicast_addresses_are_allowed(address):
    assert refusal_reason(address) is None
