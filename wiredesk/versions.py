"""Extractor versions made comparable: ``trafilatura-2.10.0`` is newer than ``-2.9.1``.

An article carries the version of the extractor that made it (``extractor_version``,
``<name>-<PEP 440 version>``). :func:`extractor_rank` turns it into a string whose
plain (byte-wise) order is the version order, so the sink can compare versions in
Python and in SQL alike (``articles.extractor_rank``). Versions of different extractor
names order by name first (a deterministic rule, not a judgement of quality); a version
that cannot be parsed has no rank (``None``) and is never compared.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

_PARTS = 4  # release components kept; more are rare and compared as the 4th's suffix
_WIDTH = 6  # digits per component
_MAX = 10**_WIDTH - 1


def _num(value: int) -> str:
    return str(min(value, _MAX)).zfill(_WIDTH)


def extractor_rank(version: str | None) -> str | None:
    """A byte-wise sortable key of ``<name>-<version>``, or None when unparseable.

    Layout: ``name/epoch.r1.r2.r3.r4.phase`` where phase orders dev < pre (a < b < rc)
    < final < post, as PEP 440 does for the common cases."""
    if not version or "-" not in version:
        return None
    name, _, text = version.rpartition("-")
    try:
        parsed = Version(text)
    except InvalidVersion:
        return None
    release = list(parsed.release[:_PARTS]) + [0] * (_PARTS - len(parsed.release[:_PARTS]))
    if parsed.post is not None:
        phase = "3" + _num(parsed.post)
    elif parsed.pre is not None:
        letter, number = parsed.pre
        phase = "1" + {"a": "a", "b": "b", "rc": "c"}[letter] + _num(number)
    elif parsed.dev is not None:
        phase = "0" + _num(parsed.dev)
    else:
        phase = "2"
    numbers = ".".join(_num(n) for n in [parsed.epoch, *release])
    return f"{name.lower()}/{numbers}.{phase}"


def newer_extractor(incoming: str | None, stored: str | None) -> int:
    """1 if ``incoming`` is a newer version of the same-ranked extractor than ``stored``,
    -1 if older, 0 if equal or not comparable (either has no rank)."""
    a, b = extractor_rank(incoming), extractor_rank(stored)
    if a is None or b is None or a == b:
        return 0
    return 1 if a > b else -1
