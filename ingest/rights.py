"""Rights and access signals of one article: paywall, TDM reservation, AI opt-out.

Detection is a pure function of what the fetcher saw -- the page's response headers,
its HTML, the host's robots.txt and its ``/.well-known/tdmrep.json`` -- and yields a
short list of evidence strings; the three flags are derived from that list alone
(:func:`verdict`), so a row can always say why it carries a flag:

* ``paywalled``: ``jsonld:isAccessibleForFree=false`` (also inside ``hasPart``),
  ``meta:article:content_tier=locked`` or ``=metered``; false on
  ``jsonld:isAccessibleForFree=true`` or ``meta:article:content_tier=free``;
* ``tdm_reserved``: ``header:TDM-Reservation: 1``, ``meta:tdm-reservation=1`` or
  ``tdmrep:<location> tdm-reservation=1`` (the first tdmrep.json rule matching the path);
  false on the same with ``0``; ``tdmrep:unknown`` when the file could not be read;
* ``ai_opt_out``: ``header:X-Robots-Tag: noai`` (or ``noimageai``, for any or a named
  user agent), ``meta:robots noai`` (or ``<meta name="GPTBot" ...>``),
  ``robots:<AI crawler> disallow`` (robots.txt keeps that crawler off the URL);
  ``robots:unknown`` when robots.txt was not read;
* informative: ``header:TDM-Policy: <url>``, ``meta:tdm-policy <url>``,
  ``tdmrep:tdm-policy <url>``.

A reservation or opt-out anywhere wins over a statement of the contrary elsewhere (the
conservative reading). Without any statement ``paywalled`` is unknown (None), while
``tdm_reserved`` and ``ai_opt_out`` are false once the host's files were read.

Every input is untrusted: sizes are capped before parsing, the patterns are RE2 (linear
time), JSON is parsed with its depth and node count bounded, and malformed input yields
no evidence rather than an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import re2
from protego import Protego

MAX_EVIDENCE = 24  # strings kept per article
EVIDENCE_CHARS = 160  # characters kept per string
HTML_SCAN_BYTES = 1_000_000  # JSON-LD and meta tags are looked for in this much HTML
META_SCAN_BYTES = 200_000  # meta tags live in the head
MAX_JSONLD_BLOCKS, MAX_JSONLD_BYTES = 16, 200_000
MAX_JSON_NODES, MAX_JSON_DEPTH = 20_000, 24
MAX_META_TAGS = 400
TDMREP_MAX_BYTES, TDMREP_MAX_RULES, TDMREP_MAX_PATTERN = 64 * 1024, 500, 512
MAX_PATH_CHARS = 4096
# Crawlers that collect text for AI training or AI answers, as named by their operators.
AI_CRAWLERS = (
    "GPTBot",
    "ChatGPT-User",
    "CCBot",
    "Google-Extended",
    "anthropic-ai",
    "ClaudeBot",
    "Claude-Web",
    "PerplexityBot",
    "Bytespider",
    "Applebot-Extended",
    "meta-externalagent",
    "cohere-ai",
    "Diffbot",
    "Omgilibot",
)
AI_DIRECTIVES = ("noai", "noimageai")
# Evidence for a host whose files were not read (robots.txt off, WARC backfill, old record).
UNCHECKED = ("robots:unknown", "tdmrep:unknown")

# On the UTF-8 bytes of the page (several times faster than on str with this binding).
_JSONLD = re2.compile(
    rb"""(?is)<script[^>]*type\s*=\s*["']?application/ld\+json["']?[^>]*>(.*?)</script"""
)
_META = re2.compile(rb"(?is)<meta\s[^>]*>")
MAX_META_BYTES = 2000  # a longer tag is not a rights statement
_ATTR = re2.compile(r"""(?is)([a-z][a-z0-9:_-]{0,40})\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")

PAYWALLED, TDM_RESERVED, AI_OPT_OUT = "paywalled", "tdm_reserved", "ai_opt_out"
SIGNALS = (PAYWALLED, TDM_RESERVED, AI_OPT_OUT)


@dataclass(frozen=True)
class Rights:
    """The flags (None: unknown) and the evidence they were derived from."""

    paywalled: bool | None
    tdm_reserved: bool | None
    ai_opt_out: bool | None
    evidence: tuple[str, ...]

    @property
    def opted_out(self) -> bool:
        """The publisher reserved text-and-data mining or opted out of AI use."""
        return bool(self.tdm_reserved or self.ai_opt_out)


# -- evidence -> flags -------------------------------------------------------------------
def _signal(evidence: str) -> tuple[str, bool | None] | None:
    """Which flag one evidence string speaks for and what it says (None: unknown)."""
    source, _, what = evidence.partition(":")
    last = what.rsplit(" ", 1)[-1]
    if source in ("robots", "tdmrep") and what == "unknown":
        return (AI_OPT_OUT if source == "robots" else TDM_RESERVED), None
    if source == "jsonld" and what.startswith("isAccessibleForFree="):
        return PAYWALLED, what.endswith("=false")
    if source == "meta" and what.startswith("article:content_tier="):
        return PAYWALLED, not what.endswith("=free")
    if what.startswith("TDM-Reservation: ") or what.startswith("tdm-reservation="):
        return TDM_RESERVED, what.endswith("1")
    if source == "tdmrep" and last.startswith("tdm-reservation="):
        return TDM_RESERVED, last.endswith("1")
    if source == "robots" and last == "disallow":
        return AI_OPT_OUT, True
    if (what.startswith("X-Robots-Tag: ") or source == "meta") and last in AI_DIRECTIVES:
        return AI_OPT_OUT, True
    return None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def verdict(evidence: Iterable[str]) -> Rights:
    """The flags ``evidence`` supports (see the module docstring), evidence deduplicated."""
    kept = tuple(dict.fromkeys(_printable(e[:EVIDENCE_CHARS]) for e in evidence))[:MAX_EVIDENCE]
    said: dict[str, set[bool | None]] = {s: set() for s in SIGNALS}
    for e in kept:
        if (found := _signal(e)) is not None:
            said[found[0]].add(found[1])

    def flag(signal: str, default: bool | None) -> bool | None:
        values = said[signal]
        if True in values:
            return True
        if False in values:
            return False
        return None if None in values else default

    return Rights(flag(PAYWALLED, None), flag(TDM_RESERVED, False), flag(AI_OPT_OUT, False), kept)


def detect(
    headers: Mapping[str, str],
    html: str,
    robots_txt: str | None,
    tdmrep_json: str | None,
    url: str,
) -> Rights:
    """Everything at once (``None`` for a file that could not be read)."""
    robots = Protego.parse(robots_txt[:500_000]) if robots_txt is not None else None
    rules = parse_tdmrep(tdmrep_json) if tdmrep_json is not None else None
    return verdict(
        [
            *header_evidence(headers),
            *robots_evidence(robots, url),
            *tdmrep_evidence(rules, url),
            *html_evidence(html),
        ]
    )


# -- headers -----------------------------------------------------------------------------
def header_evidence(headers: Mapping[str, str]) -> list[str]:
    """``X-Robots-Tag`` AI directives (any user agent), ``TDM-Reservation``, ``TDM-Policy``."""
    lowered = {str(k).lower(): str(v)[:2000] for k, v in headers.items()}
    found = [
        f"header:X-Robots-Tag: {d}"
        for d in _directives(lowered.get("x-robots-tag", ""))
        if d in AI_DIRECTIVES
    ]
    reservation = lowered.get("tdm-reservation", "").strip()
    if reservation in ("0", "1"):
        found.append(f"header:TDM-Reservation: {reservation}")
    if policy := lowered.get("tdm-policy", "").strip():
        found.append(f"header:TDM-Policy: {policy[:120]}")
    return found


def joined_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header pairs (a WARC record's) as one mapping, a repeated name's values joined by
    ``", "`` as HTTP allows (and httpx does)."""
    out: dict[str, str] = {}
    for name, value in list(pairs)[:500]:
        key = str(name).lower()
        out[key] = f"{out[key]}, {value}" if key in out else str(value)
    return out


def _directives(value: str) -> list[str]:
    """Directives of a robots value: ``noai, noimageai`` or ``GPTBot: noai, nofollow``."""
    out = []
    for part in value.lower().split(",")[:50]:
        word = part.rsplit(":", 1)[-1].strip()  # "gptbot: noai" applies to that bot: noai
        if word:
            out.append(word)
    return out


# -- robots.txt --------------------------------------------------------------------------
def robots_evidence(robots: Protego | None, url: str) -> list[str]:
    """The AI crawlers robots.txt keeps off ``url`` (``robots:unknown`` if it was not read).

    A 4xx robots.txt has no rules: pass an empty parse (``Protego.parse("")``)."""
    if robots is None:
        return ["robots:unknown"]
    found = []
    for agent in AI_CRAWLERS:
        try:
            allowed = robots.can_fetch(url, agent)
        except Exception:  # a parser corner case must not cost the page
            continue
        if not allowed:
            found.append(f"robots:{agent} disallow")
    return found


# -- tdmrep.json -------------------------------------------------------------------------
@dataclass(frozen=True)
class TdmRule:
    location: str
    reservation: int
    policy: str | None


def parse_tdmrep(text: str | bytes) -> list[TdmRule] | None:
    """The rules of a tdmrep.json (a JSON array of ``{location, tdm-reservation,
    tdm-policy}``); None when it is not such a file (too big, not JSON, wrong shape)."""
    if len(text) > TDMREP_MAX_BYTES:
        return None
    data = _json(text)
    if not isinstance(data, list):
        return None
    rules = []
    for item in data[:TDMREP_MAX_RULES]:
        if not isinstance(item, dict):
            continue
        location, reservation = item.get("location"), item.get("tdm-reservation")
        if isinstance(reservation, str) and reservation.strip() in ("0", "1"):
            reservation = int(reservation)
        if not isinstance(location, str) or reservation not in (0, 1) or reservation is True:
            continue
        policy = item.get("tdm-policy")
        policy = policy[:120] if isinstance(policy, str) and policy else None
        rules.append(TdmRule(location[:TDMREP_MAX_PATTERN], int(reservation), policy))
    return rules


def tdmrep_evidence(rules: list[TdmRule] | None, url: str) -> list[str]:
    """The first rule whose location matches the path of ``url`` (``tdmrep:unknown`` if
    the file could not be read; nothing when no rule applies)."""
    if rules is None:
        return ["tdmrep:unknown"]
    parts = urlsplit(url)
    path = ((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))[:MAX_PATH_CHARS]
    for rule in rules:
        if location_matches(rule.location, path):
            found = [f"tdmrep:{rule.location[:80]} tdm-reservation={rule.reservation}"]
            if rule.policy and rule.reservation:
                found.append(f"tdmrep:tdm-policy {rule.policy}")
            return found
    return []


def location_matches(pattern: str, path: str) -> bool:
    """robots.txt-style path pattern: a prefix, ``*`` for any run, a final ``$`` anchors.

    Linear-time segment search (no regex): each ``*``-separated piece is found leftmost
    after the previous one; an anchored last piece must end the path."""
    anchored = pattern.endswith("$")
    pieces = (pattern[:-1] if anchored else pattern).split("*")
    if not path.startswith(pieces[0]):
        return False
    at = len(pieces[0])
    if len(pieces) == 1:
        return not anchored or at == len(path)
    *middle, last = pieces[1:]
    for piece in middle:
        found = path.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    if anchored:
        return len(path) - len(last) >= at and path.endswith(last)
    return path.find(last, at) >= 0


# -- HTML --------------------------------------------------------------------------------
def html_evidence(html: str) -> list[str]:
    """JSON-LD ``isAccessibleForFree`` (also in ``hasPart``), ``article:content_tier``,
    robots meta AI directives (``robots`` or an AI crawler's name) and TDMRep meta."""
    head = html[:HTML_SCAN_BYTES].encode("utf-8", "replace")  # lone surrogates become "?"
    found: list[str] = []
    for i, match in enumerate(_JSONLD.finditer(head)):
        if i >= MAX_JSONLD_BLOCKS:
            break
        block = match.group(1)
        if len(block) <= MAX_JSONLD_BYTES:
            found += _jsonld_evidence(_json(block))
    for i, match in enumerate(_META.finditer(head[:META_SCAN_BYTES])):
        if i >= MAX_META_TAGS:
            break
        tag = match.group(0)
        low = tag.lower()
        if len(tag) <= MAX_META_BYTES and any(k in low for k in _META_KEYS):
            found += _meta_evidence(tag.decode("utf-8", "replace"))
    return found


def _jsonld_evidence(data: Any) -> list[str]:
    values = {v for v in _accessible_values(data) if v is not None}
    return [f"jsonld:isAccessibleForFree={str(v).lower()}" for v in sorted(values)]


def _accessible_values(data: Any) -> Iterator[bool | None]:
    """Every ``isAccessibleForFree`` in a JSON-LD tree (bounded walk, no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack and nodes < MAX_JSON_NODES:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_JSON_DEPTH:
            continue
        if isinstance(node, dict):
            if "isAccessibleForFree" in node:
                yield _boolean(node["isAccessibleForFree"])
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _meta_evidence(tag: str) -> list[str]:
    attrs: dict[str, str] = {}
    for name, value in _ATTR.findall(tag):
        attrs.setdefault(name.lower(), value.strip("\"'").strip()[:200])
    key = (attrs.get("name") or attrs.get("property") or "").lower()
    content = attrs.get("content", "")
    if key in ("article:content_tier", "og:article:content_tier"):
        tier = content.lower()
        known = tier in ("locked", "metered", "free")
        return [f"meta:article:content_tier={tier}"] if known else []
    if key == "tdm-reservation" and content in ("0", "1"):
        return [f"meta:tdm-reservation={content}"]
    if key == "tdm-policy" and content:
        return [f"meta:tdm-policy {content[:120]}"]
    if key == "robots" or key in _AI_META_NAMES:
        name = "robots" if key == "robots" else key
        return [f"meta:{name} {d}" for d in _directives(content) if d in AI_DIRECTIVES]
    return []


_AI_META_NAMES = frozenset(a.lower() for a in AI_CRAWLERS)
# a meta tag without one of these says nothing about rights (cheap test before parsing)
_META_KEYS = (b"robots", b"tdm-", b"content_tier", *(n.encode() for n in _AI_META_NAMES))


def _json(text: str | bytes) -> Any:
    """Parsed JSON, or None for anything malformed (deep nesting and huge numbers too)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError, TypeError):
        return None
