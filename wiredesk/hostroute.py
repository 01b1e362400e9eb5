"""Routing keys of ``news.links``: one host's links on one partition.

Politeness state (the per-host gate, the robots.txt and tdmrep.json caches) lives in
each fetcher process. Keying ``news.links`` by the *registrable host* of the link puts
every link of a site on one partition, so one fetcher of the group requests that site at
a time, and its per-process state is the whole truth about it. Both buses partition by
the key (Kafka: murmur2 of the key bytes, the SQL and memory buses: crc32), so this holds
identically embedded and on Kafka.

The registrable host is the registrable domain (eTLD+1, courlan/tld's public-suffix list)
of the URL's host, lower-cased, without port: ``www.news.example.co.uk`` and
``img.example.co.uk:8080`` share ``example.co.uk``. An IP literal, ``localhost`` or a name
without a public suffix is keyed by the host name itself.

Very large hosts: a host named in ``shards`` (``{"example.com": 4}``, setting
``fetch_host_shards``) is split into ``k`` sub-keys ``example.com#0`` ..
``example.com#k-1`` by a hash of the URL, so up to ``k`` fetchers request it at once,
each keeping its own spacing: the host then sees up to ``k`` times the per-sub-key rate.
That is an explicit allowance by the operator, bounded by ``MAX_SHARDS``; the fetcher
stretches each sub-key's robots.txt Crawl-delay by ``k`` (:func:`crawl_delay_share`) so
the host's own Crawl-delay still holds as a rate.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Mapping
from urllib.parse import urlsplit

from courlan import extract_domain

MAX_SHARDS = 16


def registrable_host(url: str) -> str:
    """The lower-cased registrable domain of ``url``'s host (or the host itself)."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""
    if not host or ":" in host or host.replace(".", "").isdigit():
        return host  # IP literal (v6 or v4) or nothing
    with contextlib.suppress(UnicodeError):  # one spelling: bücher.de -> xn--...
        host = host.encode("idna").decode("ascii")
    domain = extract_domain(f"http://{host}/")
    return (domain or host).lower()


def shards_for(host: str, shards: Mapping[str, int]) -> int:
    """How many sub-keys ``host`` is split into: 1 unless configured, at most MAX_SHARDS."""
    return max(1, min(MAX_SHARDS, int(shards.get(host, 1))))


def link_key(url: str, shards: Mapping[str, int] | None = None) -> str:
    """The ``news.links`` key of ``url``: its registrable host, or ``host#i`` for a split
    host (``i`` a stable hash of the URL, so a URL always lands on the same sub-key)."""
    host = registrable_host(url)
    if not host:  # not a URL with a host: nothing to be polite to, spread by URL
        return url
    k = shards_for(host, shards or {})
    if k == 1:
        return host
    return f"{host}#{zlib.crc32(url.encode('utf-8', 'replace')) % k}"


def crawl_delay_share(url: str, shards: Mapping[str, int] | None = None) -> int:
    """By how much a sub-key's owner stretches the host's Crawl-delay (k for a split host)."""
    return shards_for(registrable_host(url), shards or {})
