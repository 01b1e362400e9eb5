"""Which IP addresses the fetcher may connect to.

:func:`refusal_reason` names the class of a forbidden address (a short, bounded metric
label) or returns None for a public unicast address. IPv6 forms that embed an IPv4
address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4
``2002::/16``, Teredo, NAT64 ``64:ff9b::/96``) are judged by the embedded address or
refused outright: ``ipaddress`` calls several of them global, which they are not for us.

``NEVER_ALLOWED`` reasons (unspecified, metadata and the link-local ranges metadata
services live in, in any spelling, NAT64 included) are refused even where a test setup
allows private addresses (catalogue B9).
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address

# Cloud instance-metadata endpoints (AWS, AWS IPv6, Alibaba, ECS task metadata, Oracle).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2", "192.0.0.192")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = IPv6Network("::/96")
SIX_TO_FOUR = IPv6Network("2002::/16")

NEVER_ALLOWED = frozenset({"metadata", "unspecified", "link_local"})

REASONS = (
    "metadata",
    "unspecified",
    "loopback",
    "link_local",
    "multicast",
    "private",
    "cgnat",
    "nat64",
    "reserved",
)


def refusal_reason(address: str | Address) -> str | None:
    """None if ``address`` is public unicast; else the reason it is forbidden."""
    addr = ipaddress.ip_address(address) if isinstance(address, str) else address
    if addr in METADATA_ADDRESSES:
        return "metadata"
    if isinstance(addr, IPv6Address):
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            return refusal_reason(embedded) or ("reserved" if addr.ipv4_mapped is None else None)
        if any(addr in net for net in NAT64):
            inner = refusal_reason(IPv4Address(int(addr) & 0xFFFFFFFF))
            return inner if inner in NEVER_ALLOWED else "nat64"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link_local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_reserved:
        return "reserved"
    if isinstance(addr, IPv4Address) and addr in CGNAT:
        return "cgnat"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "reserved"
    return None


def _embedded_ipv4(addr: IPv6Address) -> IPv4Address | None:
    """The IPv4 address hidden in a mapped, compatible, 6to4 or Teredo IPv6 address."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in IPV4_COMPATIBLE and int(addr) > 1:  # not :: or ::1
        return IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    return None
