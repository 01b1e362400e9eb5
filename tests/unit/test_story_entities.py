"""The story entity map (wiredesk.story_entities): unique targets only, acronyms, and the same
map for any order or repetition of the story's (entity id, label) pairs."""

from __future__ import annotations

import itertools
import random

import pytest

from wiredesk.story_entities import resolve_story


def test_bare_surname_maps_to_the_one_full_name() -> None:
    story = [("heller", "PER"), ("mark-heller", "PER"), ("new-york", "LOC")]
    assert resolve_story(story) == {"heller": "mark-heller"}


def test_surname_of_two_people_is_not_mapped() -> None:
    story = [("peterson", "PER"), ("laci-peterson", "PER"), ("scott-peterson", "PER")]
    assert resolve_story(story) == {}


def test_middle_name_form_is_the_target_and_the_surname_follows_it() -> None:
    story = [("heller", "PER"), ("mark-heller", "PER"), ("mark-jay-heller", "PER")]
    assert resolve_story(story) == {"heller": "mark-jay-heller", "mark-heller": "mark-jay-heller"}


def test_two_middle_name_forms_leave_first_last_alone() -> None:
    story = [("george-bush", "PER"), ("george-h-w-bush", "PER"), ("george-walker-bush", "PER")]
    mapping = resolve_story(story)
    assert "george-bush" not in mapping


def test_surname_needs_a_person_target() -> None:
    # a place or team named like the surname is another kind: no mapping
    story = [("jordan", "PER"), ("river-jordan", "LOC")]
    assert resolve_story(story) == {}


def test_one_word_thing_is_not_mapped_to_a_longer_place() -> None:
    assert resolve_story([("gaza", "LOC"), ("gaza-strip", "LOC")]) == {}


def test_acronyms() -> None:
    story = [
        ("usgs", "ORG"),
        ("united-states-geological-survey", "ORG"),
        ("fbi", "ORG"),
        ("federal-bureau-of-investigation", "ORG"),
        ("us", "LOC"),
        ("united-states", "LOC"),
    ]
    assert resolve_story(story) == {
        "usgs": "united-states-geological-survey",
        "fbi": "federal-bureau-of-investigation",
        "us": "united-states",
    }


def test_ambiguous_acronym_is_not_mapped() -> None:
    story = [("aa", "ORG"), ("american-airlines", "ORG"), ("alcoholics-anonymous", "ORG")]
    assert resolve_story(story) == {}


def test_acronym_rule_needs_letters_and_length() -> None:
    story = [
        ("g7", "ORG"),
        ("abcdefg", "ORG"),
        ("a-b-c-d-e-f-g", "ORG"),
        ("gee-seven", "ORG"),
    ]
    assert resolve_story(story) == {}


def test_person_initials_are_not_an_acronym_of_a_thing() -> None:
    assert resolve_story([("jfk", "PER"), ("john-f-kennedy", "PER")]) == {}


def test_no_chains_every_target_is_final() -> None:
    story = [("heller", "PER"), ("mark-heller", "PER"), ("mark-jay-heller", "PER")]
    mapping = resolve_story(story)
    assert not set(mapping.values()) & set(mapping)


def test_order_and_repetition_do_not_matter() -> None:
    story = [
        ("heller", "PER"),
        ("mark-heller", "PER"),
        ("mark-jay-heller", "PER"),
        ("peterson", "PER"),
        ("laci-peterson", "PER"),
        ("scott-peterson", "PER"),
        ("usgs", "ORG"),
        ("united-states-geological-survey", "ORG"),
        ("ca", "LOC"),
    ]
    expected = resolve_story(story)
    assert expected  # the fixture maps something, so equality below means something
    rng = random.Random(7)
    for _ in range(50):
        shuffled = story * rng.randint(1, 3)
        rng.shuffle(shuffled)
        assert resolve_story(shuffled) == expected
    for perm in itertools.islice(itertools.permutations(story), 200):
        assert resolve_story(perm) == expected


def test_spelling_variants_in_one_story_take_the_preferred_spelling() -> None:
    story = [
        ("malcom-tucker", "PER"),
        ("malcolm-tucker", "PER"),
        ("duncan-rait", "PER"),
        ("duncan-raite", "PER"),
        ("tucker", "PER"),
    ]
    assert resolve_story(story) == {
        "malcom-tucker": "malcolm-tucker",
        "duncan-rait": "duncan-raite",
        "tucker": "malcolm-tucker",  # the surname rule counts after the variants
    }


def test_variants_need_the_same_kind_and_no_feminine_pair() -> None:
    assert resolve_story([("nazarbayev", "PER"), ("nazarbayeva", "PER")]) == {}
    assert resolve_story([("marchetti", "PER"), ("marchetto", "ORG")]) == {}
    assert resolve_story([("kim-jong-un", "PER"), ("kim-jong-il", "PER")]) == {}


def test_a_chain_of_variants_is_left_alone() -> None:
    # abcdefgh ~ abcdefxy ~ abcdwxyh but the ends are three edits apart: no group
    story = [("abcdefgh", "LOC"), ("abcdefxy", "LOC"), ("abcdexyy", "LOC")]
    assert resolve_story(story) == {}


def test_kind_is_a_function_of_the_set() -> None:
    # the same id seen as PER in one article and ORG in another is a person, either order
    a = [("heller", "ORG"), ("heller", "PER"), ("mark-heller", "PER")]
    assert resolve_story(a) == resolve_story(list(reversed(a))) == {"heller": "mark-heller"}


def test_eval_scores_names_after_their_documents_story_map() -> None:
    from transform.eval_entity_merge import evaluate

    def side(name: str, doc: str, *context: str) -> dict:
        return {"name": name, "label": "PER", "doc": doc, "context": [[c, "PER"] for c in context]}

    pairs = [
        # same story (d1, d2): the bare surname resolves through the story's one full name
        {"a": side("Heller", "d1"), "b": side("Mark Jay Heller", "d2"), "same": True},
        # d3 (another story, another Heller): not resolved by d2's full name
        {"a": side("Heller", "d3"), "b": side("Mark Jay Heller", "d2"), "same": False},
        # two Petersons in the story: no mapping, so no false merge
        {
            "a": side("Peterson", "d4"),
            "b": side("Laci Peterson", "d5", "Scott Peterson"),
            "same": False,
        },
    ]
    stories = {"d1": "s1", "d2": "s1", "d3": "s3", "d4": "s4", "d5": "s4"}
    result = evaluate(pairs, stories)
    before, after = result["canonical"], result["canonical_after_story_map"]
    assert (before["tp"], before["fp"]) == (0, 0)
    assert (after["tp"], after["fp"], after["fn"]) == (1, 0, 0)
    assert result["story_map"]["documents_without_story"] == 0


def test_a_garbled_spelling_maps_to_the_one_id_of_its_consonant_skeleton() -> None:
    # Gregoron (a seed's garbling of Graivoron): skeletons grgrn / grvrn, one edit apart
    story = [("gregoron", "LOC"), ("graivoron", "LOC"), ("belgorod", "LOC")]
    assert resolve_story(story) == {"gregoron": "graivoron"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("kharkiv", "kherson"),
        ("khamenei", "khomeini"),
        ("sergei-lavrov", "sergei-lavrenov"),
        ("belgorod", "belgrade"),
        ("mariupol", "melitopol"),
        ("kramatorsk", "kamensk"),
        ("nursultan-nazarbayev", "nursultan-nazarbayeva"),
        ("grigoropoulos", "gregorakis"),
    ],
)
def test_skeleton_alike_needs_one_edit_and_the_same_ends(a: str, b: str) -> None:
    assert resolve_story([(a, "PER"), (b, "PER")]) == {}
