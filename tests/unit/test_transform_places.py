"""The place gazetteer (transform.places, built by transform.build_places): one id for a
city's spellings in many languages, for places only, never a country, never a village
that shares a city's alternate name; and the shipped table still matches the keying."""

from __future__ import annotations

import gzip

import pytest

from transform import places
from transform.build_places import build
from transform.canonical import AliasTable, match_key, resolve
from transform.entities import Mention

NO_ALIASES = AliasTable([])


def one_id(name: str, label: str = "LOC", cities=None) -> str:
    mention = Mention(label, name, 0, len(name))
    return resolve([mention], NO_ALIASES, cities)[0].canonical_id


def test_the_shipped_table_loads_and_its_keys_match_the_current_keying():
    """The table is keyed by match_key when it is built: a change to the keying rules
    must come with a rebuild (./dev build-places), or lookups silently miss."""
    assert len(places.table()) > 50_000
    lines = gzip.decompress(places.PLACES_FILE.read_bytes()).decode().splitlines()
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    sample = rows[:: max(1, len(rows) // 1500)]
    stale = [(key, spelling) for key, _, spelling in sample if match_key(spelling) != key]
    assert stale == [], f"{len(stale)} of {len(sample)} keys are stale: ./dev build-places"


@pytest.mark.parametrize(
    "spellings",
    [
        ("Yekaterinburg", "Jekaterinburg", "Ekaterinburg", "Sverdlovsk"),
        ("Luhansk", "Lugansk"),
        ("Zhytomyr", "Schytomyr", "Jytomyr"),
        ("Kherson", "Cherson"),
        ("Novosibirsk", "Nowosibirsk"),
        ("Sievierodonetsk", "Severodonetsk", "Sjewjerodonezk"),
    ],
)
def test_spellings_of_one_city_get_one_id(spellings):
    ids = {one_id(s) for s in spellings}
    assert len(ids) == 1, ids
    assert len({one_id(s, cities={}) for s in spellings}) > 1  # the gazetteer's doing


def test_only_places_use_it_and_countries_and_villages_keep_their_names():
    assert one_id("Torez") == "chystyakove"  # the city's GeoNames name (renamed in 2016)
    assert one_id("Torez", label="PER") == "torez"  # a person named so is not a city
    for country in ("Mexico", "Kuwait", "Panama", "Singapore", "Georgia"):
        assert one_id(country) == country.lower()
    assert one_id("Andriivka") == "andriivka"  # a village name, not Andreyevskoye's


def test_hard_negatives_stay_apart():
    pairs = [("Mariupol", "Melitopol"), ("Donetsk", "Sievierodonetsk"), ("Austria", "Australia")]
    for a, b in pairs:
        assert one_id(a) != one_id(b)


def city(gid: int, name: str, population: int, *alternates: str) -> dict:
    return {"geonameid": gid, "name": name, "population": population, "alternatenames": alternates}


def test_build_keeps_names_and_drops_codes_romanisations_regions_and_ambiguity():
    cities = {
        str(c["geonameid"]): c
        for c in [
            city(1, "Bigtown", 900_000, "Bigstadt", "BGT", "bigtaun", "Sharedname", "Mexico"),
            city(2, "Othertown", 500_000, "Sharedname", "Otherstadt"),
            city(3, "Capital", 2_000_000, "Lonelyname"),
            city(4, "Smallville", 20_000, "Lonelyname"),
        ]
    }
    villages = {"9": city(9, "Otherstadt", 400_000), "8": city(8, "Lonelyname", 1_000)}
    rows = build(cities, ["Mexico"], villages)
    table = {key: name for key, name, _ in rows}
    assert table[match_key("Bigstadt")] == "Bigtown"
    assert table[match_key("Bigtown")] == "Bigtown"
    assert match_key("BGT") not in table and match_key("bigtaun") not in table
    assert match_key("Mexico") not in table  # a country's name
    assert match_key("Sharedname") not in table  # 900k vs 500k: not 10x
    assert table[match_key("Lonelyname")] == "Capital"  # 2M vs 20k + a village of 1k
    assert match_key("Otherstadt") not in table  # another place's own name: 500k vs 400k
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert build(dict(reversed(list(cities.items()))), ["Mexico"], villages) == rows


def test_a_city_keeps_its_id_beside_other_names_in_the_article():
    context = [Mention("LOC", "Moscow", 0, 6), Mention("PER", "Vladimir Putin", 8, 22)]
    for name in ("Jekaterinburg", "Yekaterinburg"):
        mention = Mention("LOC", name, 30, 30 + len(name))
        assert resolve([*context, mention], NO_ALIASES)[2].canonical_id == "yekaterinburg"
