"""The story-similarity model: a pure pairwise predicate, deterministic and order-independent."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.conftest import SHARED_DATA
from transform import storysim
from transform.storysim import StoryFeatures, cluster, same_story, similarity, story_features

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)

# Two write-ups of one event, and the same kind of event elsewhere with other actors.
FERRY_A = (
    "Ferry capsizes off Port Kellan, dozens rescued",
    "A passenger ferry capsized off Port Kellan on Saturday, and coastguard crews rescued "
    "forty-two people from the water. The Marisol Star was carrying 60 passengers when it "
    "turned over in high winds near the Kellan breakwater, harbour master Tomas Ribeiro said. "
    "Eleven people are missing. Governor Alana Moyo said divers from Vessa would join the "
    "search at first light.",
)
FERRY_B = (
    "Coastguard searches for 11 missing after Marisol Star sinks near Port Kellan",
    "Divers resumed the search on Sunday for eleven passengers missing since the Marisol Star "
    "ferry capsized near the Kellan breakwater. Harbour master Tomas Ribeiro told reporters "
    "that 42 people were pulled from the sea. Governor Alana Moyo visited survivors in the "
    "Port Kellan hospital and promised an inquiry into the ferry operator.",
)
FERRY_OTHER = (  # same kind of event, same wording, other ferry, place and people
    "Ferry capsizes off Draskel, dozens rescued",
    "A passenger ferry capsized off Draskel on Saturday, and coastguard crews rescued "
    "thirty people from the water. The Northern Light was carrying 35 passengers when it "
    "turned over in high winds near the Orvo breakwater, harbour master Ilse Vandermeer said. "
    "Five people are missing. Governor Piet Halloran said divers would join the search at "
    "first light.",
)


def feats(article: tuple[str, str], when: datetime | None = T0, entities=()) -> StoryFeatures:
    return story_features(article[0], article[1], entities, when)


def test_same_event_write_ups_join_and_same_kind_of_event_elsewhere_does_not():
    a, b, other = feats(FERRY_A), feats(FERRY_B, T0 + timedelta(hours=20)), feats(FERRY_OTHER)
    assert same_story(a, b) and same_story(b, a)
    assert not same_story(a, other) and not same_story(b, other)
    assert similarity(a, b) > storysim.DEFAULT_THRESHOLD > similarity(a, other)


def test_deterministic_symmetric_and_json_serialisable():
    a, b = feats(FERRY_A), feats(FERRY_B)
    assert feats(FERRY_A) == a
    assert similarity(a, b) == similarity(b, a)
    assert storysim.candidate_keys(a) == sorted(storysim.candidate_keys(a))
    stored = json.loads(json.dumps(a.as_json()))
    assert StoryFeatures.from_json(stored) == a
    assert json.dumps(a.as_json(), sort_keys=True) == json.dumps(
        feats(FERRY_A).as_json(), sort_keys=True
    )
    assert len(json.dumps(a.as_json())) < 4000  # compact enough for a DB column


def test_no_edge_across_a_gap_beyond_the_window_and_unknown_time_never_separates():
    window = storysim.DEFAULT_WINDOW
    a = feats(FERRY_A)
    assert same_story(a, feats(FERRY_A, T0 + window))
    assert not same_story(a, feats(FERRY_A, T0 + window + timedelta(seconds=1)))
    assert not same_story(feats(FERRY_A, T0 - window - timedelta(seconds=1)), a)
    assert same_story(a, feats(FERRY_A, None))


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12))),
    ],
)
def test_extreme_dates_compare_without_overflow(when: datetime):
    far = feats(FERRY_A, when)
    assert isinstance(far.when, int)
    assert not same_story(far, feats(FERRY_B))  # thousands of years apart: no edge, no raise
    assert same_story(far, feats(FERRY_A, when))  # same instant: content decides
    assert cluster([far, feats(FERRY_A), feats(FERRY_A, when)]) == [0, 1, 0]


def test_year_1_and_year_9999_are_far_apart_even_with_the_largest_window():
    first, last = feats(FERRY_A, datetime(1, 1, 1)), feats(FERRY_A, datetime(9999, 12, 31))
    assert storysim.within_window(first, last, timedelta.max)
    assert not storysim.within_window(first, last, timedelta(days=3_000_000))


def _invented_stream(n_events: int = 12) -> list[StoryFeatures]:
    """Write-ups of several events: ferry A, B and the other ferry, each re-dated."""
    out = []
    for k in range(n_events):
        shift = timedelta(days=10 * k)
        out += [feats(FERRY_A, T0 + shift), feats(FERRY_B, T0 + shift + timedelta(hours=3))]
        out.append(feats(FERRY_OTHER, T0 + shift + timedelta(hours=1)))
    return out


def _partition(items: list[StoryFeatures], labels: list[int], ids: list[int]) -> set[frozenset]:
    groups: dict[int, set[int]] = {}
    for i, label in zip(ids, labels, strict=True):
        groups.setdefault(label, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def test_cluster_gives_the_same_partition_in_any_order():
    items = _invented_stream()
    reference = _partition(items, cluster(items), list(range(len(items))))
    assert len(reference) == 24  # each event twice as far apart as the window: 2 stories each
    for seed in (1, 2, 3):
        order = list(range(len(items)))
        random.Random(seed).shuffle(order)
        shuffled = [items[k] for k in order]
        assert _partition(shuffled, cluster(shuffled), order) == reference


def test_an_added_article_only_merges_stories():
    items = _invented_stream(3)
    before = _partition(items, cluster(items), list(range(len(items))))
    bridge = feats(FERRY_A, T0 + timedelta(days=5))  # within the window of events 0 and 1
    after = _partition([*items, bridge], cluster([*items, bridge]), list(range(len(items) + 1)))
    for group in before:  # every old story is inside one new story
        assert sum(1 for g in after if group <= g) == 1


def test_entities_are_optional_and_accept_pairs_or_objects():
    from wiredesk.records import Entity

    ent = Entity(
        canonical_id="per:tomas-ribeiro",
        name="Tomas Ribeiro",
        label="PER",
        surface="Tomas Ribeiro",
        start=0,
        end=13,
    )
    by_object = feats(FERRY_A, entities=[ent, ent])
    by_pair = feats(FERRY_A, entities=[("per:tomas-ribeiro", "PER")] * 2)
    assert by_object == by_pair and by_pair.entities == {"per:tomas-ribeiro": 1.0}
    assert feats(FERRY_A, entities=[(), ("org:x",)]).entities == {"org:x": 1.0}


ECB = SHARED_DATA / "ecbplus_dev.jsonl.gz"


@pytest.mark.skipif(not ECB.exists(), reason=f"{ECB} absent (shared dev data)")
def test_ecbplus_dev_beats_tfidf_single_link_in_any_order():
    from transform import eval_stories as ev
    from transform.scoring import bcubed

    items, _ = ev.read_items(ECB)
    fs = [story_features(i.title, i.text, (), i.published) for i in items]
    gold = {i.id: i.gold for i in items}
    labels = cluster(fs)
    model = bcubed(gold, {i.id: label for i, label in zip(items, labels, strict=True)})
    baseline = max(r["bcubed"]["f1"] for r in ev.single_link_sweep(items, ev.tfidf_vectors(items)))
    assert model.f1 >= 0.88 > baseline
    assert ev.order_independence(items, fs, storysim.DEFAULT_THRESHOLD)


def test_eval_command_scores_a_small_file_and_refuses_bad_ones(tmp_path, capsys):
    from transform import eval_stories

    rows = [
        {"id": "a", "title": FERRY_A[0], "text": FERRY_A[1], "story": "kellan"},
        {"id": "b", "title": FERRY_B[0], "text": FERRY_B[1], "story": "kellan"},
        {"id": "c", "title": FERRY_OTHER[0], "text": FERRY_OTHER[1], "story": "draskel"},
        {"id": "d", "text": "   ", "story": "x"},  # no text: skipped, counted
        {"id": "e", "text": FERRY_A[1], "story": "kellan", "published": "not a date"},
    ]
    good = tmp_path / "stories.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    assert eval_stories.main([str(good), "--no-ner", "--no-product", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["records"], result["skipped"]) == (4, 2)
    assert result["model"]["default"]["bcubed"]["f1"] == 1.0
    assert result["model"]["order_independent_3_shuffles"] is True
    assert {"tfidf_single_link", "online_centroid"} <= result.keys()

    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": 1}\n', encoding="utf-8")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 not gzip")
    for path in (empty, broken, tmp_path / "missing.jsonl"):
        assert eval_stories.main([str(path), "--no-ner", "--no-product"]) == 2
        assert "stories-offline" in capsys.readouterr().err


def test_the_product_baseline_runs_the_enrich_stage():
    """Baseline (b) of ``eval stories-offline``: the records through the enrich stage."""
    from transform import eval_stories as ev

    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    items = [
        ev.Item("a", FERRY_A[0], FERRY_A[1], when, "kellan"),
        ev.Item("b", FERRY_B[0], FERRY_B[1], when + timedelta(hours=2), "kellan"),
        ev.Item("c", FERRY_OTHER[0], FERRY_OTHER[1], when + timedelta(hours=3), "draskel"),
    ]
    result = ev.product(items, None)
    assert result["threshold"] == storysim.DEFAULT_THRESHOLD
    assert result["unscored"] == {}
    assert result["bcubed"]["f1"] == 1.0 and result["stories"] == 2
