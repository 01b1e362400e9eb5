"""The place gazetteer: the spellings of 34,000 cities in many languages, one id each.

Built from GeoNames (CC BY 4.0) by ``./dev build-places`` (:mod:`transform.build_places`)
into ``data/places.tsv.gz``: match key -> the city's GeoNames name. A place mention
(label LOC) whose key is in the table takes its id from that name, so spellings no
transliteration rule relates are one entity (Jekaterinburg / Yekaterinburg, Lugansk /
Luhansk, Schytomyr / Zhytomyr, Severodonetsk / Sievierodonetsk). Exact keys only: no
fuzzy lookups, and never a country's or US state's name (Mexico is not Mexico City).
The table is read once per process (about 105,000 keys).
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

PLACES_FILE = Path(__file__).parent / "data" / "places.tsv.gz"
PLACE_LABELS = frozenset({"LOC"})


@lru_cache(maxsize=1)
def table(path: Path = PLACES_FILE) -> dict[str, str]:
    """Match key -> GeoNames name; empty (and every lookup misses) when the file is absent."""
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            key, name, _ = line.split("\t", 2)
            out[key] = name
    return out
