"""Entity canonicalisation: readable label-free ids, variant merging, hard negatives."""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.transform_support import seed_articles
from transform.canonical import AliasTable, normal, readable, resolve
from transform.entities import EntityTagger, canonicalise, mentions
from transform.eval_entity_merge import evaluate, read_pairs, run

NO_ALIASES = AliasTable([])


@dataclass(frozen=True)
class M:
    label: str
    surface: str


def ids(*found: M, aliases: AliasTable = NO_ALIASES) -> list[str]:
    return [e.canonical_id for e in resolve(found, aliases)]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Khan", "Han"),
        ("Hart", "Chart"),
        ("Austria", "Australia"),
        ("Iran", "Iraq"),
        ("Hillary Clinton", "Bill Clinton"),
        ("Kim Jong-un", "Kim Jong-il"),
        ("Serena Williams", "Venus Williams"),
        ("Kharkiv", "Kherson"),
        ("Hansen", "Jensen"),
        ("Stephens", "Stevens"),
    ],
)
def test_different_entities_with_similar_names_never_merge(a, b):
    # neither across articles nor within one article, with or without the alias file
    assert ids(M("PER", a))[0] != ids(M("PER", b))[0]
    together = ids(M("PER", a), M("PER", b))
    assert together[0] != together[1]


def test_ids_are_readable_slugs_and_do_not_depend_on_the_label():
    assert ids(M("LOC", "Ukrainian"))[0] == ids(M("MISC", "Ukrainian"))[0] == "ukrainian"
    assert ids(M("LOC", "Moscow"), M("ORG", "Twitter")) == ["moscow", "twitter"]
    assert ids(M("PER", "President Zelenskiy")) == ["zelensky"]
    assert ids(M("PER", "Зеленский")) == ids(M("PER", "Zelenskyy")) == ["zelensky"]


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        (["Зеленский", "Zelenskyy", "Zelenskiy", "Zelensky"], "zelensky"),
        (["Грайворон", "Grayvoron", "Graivoron"], "graivoron"),
        (["Prigozhin", "Prigojine", "Пригожин"], "prigozhin"),
        (["Avdiivka", "Avdeyevka", "Avdeevka"], "avdiivka"),
        (["Bakhmut", "Бахмут"], "bakhmut"),
        (["Gorbachev", "Gorbatschow", "Gorbatchev", "Gorbachov"], "gorbachev"),
        (["Lavrov", "Lawrow"], "lavrov"),
        (["Kästner", "Kastner"], "kastner"),
    ],
)
def test_transliterations_get_one_readable_id(spellings, expected):
    assert {readable(s) for s in spellings} == {expected}


@pytest.mark.parametrize(
    "name",
    [
        "Moscow",
        "Twitter",
        "Owen",
        "Lyons",
        "Guinea",
        "Mississippi",
        "Council of Europe",
        "Mark Croucher",
        "Tindall",
        "Jungle Fever",
        "John Peel Show",
        "Eidur Gudjohnsen",
    ],
)
def test_english_and_unknown_names_keep_their_spelling_in_ids(name):
    assert readable(name) == normal(name)


def test_in_article_context_merges_variants_whatever_the_order():
    found = [
        M("LOC", "Bakhmut"),
        M("ORG", "Bahmut"),
        M("LOC", "Bachmut"),
        M("LOC", "Bakhmut"),
        M("PER", "Volodymyr Zelensky"),
        M("PER", "Zelensky"),
        M("ORG", "Advanced Micro Devices"),
        M("ORG", "AMD"),
    ]
    expected = None
    for order in itertools.permutations(range(len(found)), len(found)):
        if expected is not None and order[0] > 2:
            break  # a few hundred orders are enough
        got = dict(zip((found[i] for i in order), ids(*(found[i] for i in order)), strict=True))
        expected = expected or got
        assert got == expected
    assert {expected[m] for m in found[:4]} == {"bakhmut"}
    assert {expected[m] for m in found[4:6]} == {"volodymyr-zelensky"}
    assert {expected[m] for m in found[6:]} == {"advanced-micro-devices"}


def test_seed_spellings_map_to_one_entity_each_without_the_alias_file():
    seeds, _ = seed_articles()
    tagger = EntityTagger()
    by_surface: dict[str, set[str]] = {}
    for seed in seeds:
        for e in canonicalise(mentions(tagger.nlp(seed.text)), NO_ALIASES):
            by_surface.setdefault(e.surface, set()).add(e.canonical_id)
    groups = {
        "Zelensky": ["Zelensky", "Zelenskyy", "Zelenskiy", "Volodymyr Zelensky"],
        "Bakhmut": ["Bakhmut", "Bahmut", "Bachmut"],
        "Graivoron": ["Graivoron", "Grayvoron"],
    }
    for spellings in groups.values():
        found = [s for s in spellings if s in by_surface]
        assert len(found) >= 2, (spellings, sorted(by_surface))
        assert len(set().union(*(by_surface[s] for s in found))) == 1, {
            s: by_surface[s] for s in found
        }


def test_entity_merge_eval_scores_against_the_baseline(tmp_path, capsys):
    pairs = [
        {"a": {"name": "Zelenskiy", "label": "PER"}, "b": {"name": "Zelenskyy", "label": "PER"}},
        {"a": {"name": "Khan", "label": "PER"}, "b": {"name": "Han", "label": "PER"}},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "\n".join(json.dumps({**p, "same": i == 0}) for i, p in enumerate(pairs)) + "\n"
    )
    result = evaluate(read_pairs(path))
    assert result["canonical"]["recall"] == 1.0 and result["canonical"]["precision"] == 1.0
    assert result["baseline_exact_key"]["recall"] == 0.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n')
    args = type("Args", (), {"file": bad, "json": False, "stories": None})()
    assert run(args) == 2
    assert "not a name pair" in capsys.readouterr().err


NAMES_FILE = Path(__file__).resolve().parents[2] / "bench" / "data" / "entity_merge_names.toml"


def test_hand_written_hard_negatives_never_merge_and_variants_mostly_do():
    # the hand-written part of the entity-merge dev set (no ../shared data needed): every
    # hard negative stays apart; recall on its variant pairs without the alias file was
    # 0.36 before the Slavic / unattested re-spelling rules, 0.58 after them, 0.65 with
    # the likeliest reading of a Slavic name's unattested words, 0.90 with the Arabic
    # reading and the rules of issue 12 part 4 (242 of 268 measured)
    data = tomllib.loads(NAMES_FILE.read_text(encoding="utf-8"))
    merged = [
        (a, b)
        for block in data["negatives"]
        for a, b, label in block["pairs"]
        if ids(M(label, a))[0] == ids(M(label, b))[0]
    ]
    assert merged == []
    positives = [
        ids(M(g["label"], a))[0] == ids(M(g["label"], b))[0]
        for g in data["variants"]
        for a, b in itertools.combinations(g["names"], 2)
    ]
    assert sum(positives) / len(positives) >= 0.89


@pytest.mark.parametrize(
    "spellings",
    [
        # names that are not in the dev set: the rules, not a list, relate them
        ["Sergei Ryabkov", "Sergey Ryabkov", "Sergej Rjabkow"],
        ["Andrei Rublev", "Andrey Rublev"],
        ["Alexei Kudrin", "Alexey Kudrin", "Alexej Kudrin"],
        ["Matvei Safonov", "Matvey Safonov"],
        ["Tadzhik", "Tajik", "Tadschik"],
        ["Dirk A. Kempthorne", "Dirk Kempthorne", "Dirk A.Kempthorne"],
        ["ATI Technologies Inc", "ATI Technologies", "ATI"],
        # German sch for zh, s for z, w for v; a spelling read in another system
        ["Andrei Zhdanov", "Andrei Schdanow"],
        ["Nazarov", "Nasarow"],
        ["Irina Zakharchenko", "Irina Sachartschenko"],
        ["Andrei Vyshinsky", "Andrej Wyschinski"],
        ["Zhukovsky", "Schukowski"],
        ["Khabarovsk", "Chabarowsk"],
    ],
)
def test_general_rules_give_unlisted_variants_one_id(spellings):
    assert len({ids(M("PER", s))[0] for s in spellings}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Fischer", "Fisher"),
        ("Joschka Fischer", "Joschka Fisher"),
        ("Tindall", "Tyndall"),
        ("Hanson", "Hansson"),
        ("Carlson", "Carlsson"),
        ("Sherri Shepherd", "Sherry Shepherd"),
        ("Luis Figo", "Louis Figo"),
        ("George W. Bush", "George H. W. Bush"),
        ("Plan B Entertainment", "Plan Entertainment"),
        ("Kim Jong-un", "Kim Jong-il"),
    ],
)
def test_english_spellings_and_father_son_names_stay_apart(a, b):
    # across articles; within one article a shared key (Fischer / Fisher) is one entity
    assert ids(M("PER", a))[0] != ids(M("PER", b))[0]
    context = M("LOC", "Berlin")
    assert ids(M("PER", a), context)[0] != ids(M("PER", b), context)[0]


def test_father_and_son_stay_apart_within_one_article():
    pairs = [
        ("George W. Bush", "George H. W. Bush"),
        ("Kim Jong-un", "Kim Jong-il"),
        ("Nursultan Nazarbayev", "Nursultan Nazarbayeva"),  # -a: a woman, another person
    ]
    for a, b in pairs:
        together = ids(M("PER", a), M("PER", b))
        assert together[0] != together[1]


@pytest.mark.parametrize(
    "word",
    ["yearly", "Chow", "Zhou", "Bois", "Marlow", "Glasgow", "Charpy", "Schunk", "Cholly"],
)
def test_english_words_with_transliteration_letters_keep_their_spelling(word):
    # their keys hold Slavic sounds (ye-, ch, zh, -ow), yet they are no transliterations
    assert readable(word) == normal(word)


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        # romanised Arabic names (transform/arabic.py): a marker makes the name Arabic,
        # and every spelling takes its key's most used spelling
        (["Muammar Gaddafi", "Muammar Qaddafi", "Moammar Gadhafi"], "muammar-gaddafi"),
        (["Osama bin Laden", "Usama bin Laden", "Oussama ben Laden"], "osama-bin-laden"),
        (["Mohammed bin Salman", "Muhammad bin Salman"], "muhammad-bin-salman"),
        (["Hassan Rouhani", "Hasan Rowhani", "Hassan Rohani"], "hassan-rouhani"),
        (["Ali Khamenei", "Ali Chamenei", "Ali Khamene'i"], "ali-khamenei"),
        # not in the dev set
        (["Qassem Soleimani", "Qasem Soleimani"], "qassem-soleimani"),
        (["Abu Bakr al-Baghdadi", "Abu Bakr al-Bagdadi"], "abu-bakr-baghdadi"),
        (["Ismail Haniyeh", "Ismail Haniya"], "ismail-haniyeh"),
        (["Ahmed Shah Massoud", "Ahmad Shah Masoud"], "ahmed-shah-masood"),
    ],
)
def test_romanised_arabic_names_get_one_id(spellings, expected):
    assert {ids(M("PER", s))[0] for s in spellings} == {expected}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ali Khamenei", "Ali Khomeini"),  # vowels in another order
        ("Mohammed bin Salman", "Mohammed bin Zayed"),
        ("Mohamed Salah", "Mohamed Saleh"),  # -ah (a letter) is not -eh (ta marbuta)
        ("Qassem Soleimani", "Qassam Soleimani"),  # only -ed reads e as a
        ("Saddam Hussein", "Saddam Haftar"),
        ("Osama bin Laden", "Omar bin Laden"),
        ("Hannibal Gaddafi", "Muammar Gaddafi"),
        ("Jamal Murray", "Jamal Crawford"),  # a given-name marker, English surnames
        ("Allen", "Allan"),  # no marker: English spellings stay apart
        ("Martin", "Marten"),
        ("Thompson", "Thomson"),
    ],
)
def test_similar_arabic_and_english_names_of_different_people_stay_apart(a, b):
    assert ids(M("PER", a))[0] != ids(M("PER", b))[0]


def test_an_arabic_id_spelling_is_a_name_of_the_same_key():
    # Saleh's key has candidates 'sale' (an ordinary word) and 'salah' (Salah's spelling,
    # another key): neither is taken, so two keys never share an id
    from transform.arabic import key, spelling

    assert spelling("saleh") == "saleh" and key("saleh") != key(spelling("salah"))
    assert spelling("qaddafi") == spelling("gadhafi") == "gaddafi"


@pytest.mark.parametrize(
    "spellings",
    [
        # Slavic spellings the rules relate since issue 12 part 4
        ["Kharkiv", "Kharkif"],  # final -f after a vowel as -v
        ["Gazprom", "Gasprom"],  # s / z before a consonant
        ["Roskomnadzor", "Roskomnadsor"],  # dz / ds
        ["Kyrgyzstan", "Kirghizstan"],  # French gh before i
        ["Sviatlana Tsikhanouskaya", "Swjatlana Zichanouskaja"],  # German initial z
        ["Yulia Tymoshenko", "Ioulia Tymochenko"],  # French iou after ou -> u
        ["Boris Yeltsin", "Boris Jelzin", "Boris Eltsine"],  # German j as y
        ["Prigozhin", "Prigoschin"],  # an unattested German spelling read as zh
        ["Sergei Surovikin", "Sergej Surowikin"],  # spelled from the key, i/y as written
        ["Denis Pushilin", "Denis Puschilin"],
        ["Denys Shmyhal", "Denys Schmyhal"],
        # not in the dev set
        ["Nikolai Patrushev", "Nikolai Patruschew"],
        ["Yegor Ligachev", "Jegor Ligatschow"],
    ],
)
def test_more_slavic_spellings_get_one_id(spellings):
    assert len({ids(M("PER", s))[0] for s in spellings}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Gazprom", "Gazprombank"),
        ("Rosneft", "Rosnano"),
        ("Kharkiv", "Kherson"),
        ("Sergei Lavrov", "Sergei Lavrenov"),
        ("Kyrgyzstan", "Kazakhstan"),
        ("Yulia Tymoshenko", "Yulia Svyrydenko"),
        ("Boris Yeltsin", "Boris Nemtsov"),
    ],
)
def test_slavic_names_of_different_entities_stay_apart(a, b):
    assert ids(M("PER", a))[0] != ids(M("PER", b))[0]


def test_the_seeds_garbled_gregoron_is_graivoron_within_their_story_without_aliases():
    # issue 12 acceptance: the enricher's ids (no alias file) of the five seeds, which the
    # story model puts in one story, then the sink's story map over that story's ids
    from transform import storysim
    from wiredesk.story_entities import resolve_story

    seeds, _ = seed_articles()
    tagger = EntityTagger()
    found = [canonicalise(mentions(tagger.nlp(s.text)), NO_ALIASES) for s in seeds]
    feats = [
        storysim.story_features(s.title, s.text, e, s.published_at)
        for s, e in zip(seeds, tagger.tag_many(s.text for s in seeds), strict=True)
    ]
    assert len(set(storysim.cluster(feats, storysim.DEFAULT_THRESHOLD))) == 1
    story = {(e.canonical_id, e.label) for entities in found for e in entities}
    ids_of = {e.surface: e.canonical_id for entities in found for e in entities}
    assert ids_of["Gregoron"] == "gregoron" and ids_of["Graivoron"] == "graivoron"
    assert resolve_story(story).get("gregoron") == "graivoron"
