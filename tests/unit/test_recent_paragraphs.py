"""Issue 17: text is tagged paragraph by paragraph, and a copy's unchanged paragraphs are
not tagged again; the entities are the same."""

from __future__ import annotations

import pytest

from transform.entities import EntityTagger, Mention, RecentParagraphs, paragraphs

TEXT = (
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday, Reuters reported.\n"
    "The talks at the Elysee Palace were about Airbus and its plant in Toulouse.\n"
    "\n"
    "Olaf Scholz was not there."
)


def mention(n: int) -> Mention:
    return Mention("PER", f"N{n}", n, n + 2)


def test_paragraphs_are_the_non_blank_lines_with_their_offsets():
    parts = paragraphs(TEXT)
    assert [TEXT[o : o + len(p)] == p for o, p in parts] == [True, True, True]
    assert [p[:5] for _, p in parts] == ["Angel", "The t", "Olaf "]
    assert paragraphs("x" * 25 + "\n  \nab", limit=10) == [
        (0, "x" * 10),
        (10, "x" * 10),
        (20, "x" * 5),
        (29, "ab"),
    ]


def test_recent_paragraphs_forget_the_least_recent_first_and_hold_bounded_mentions():
    recent = RecentParagraphs(max_paragraphs=2, max_mentions=100)
    a, b, c = (RecentParagraphs.digest(t) for t in ("para a", "para b", "para c"))
    recent.put(a, [mention(1)])
    recent.put(b, [mention(2)])
    assert recent.get(a) == [mention(1)]  # a is now the most recent
    recent.put(c, [mention(3)])
    assert recent.get(b) is None and recent.get(a) == [mention(1)] and len(recent) == 2
    small = RecentParagraphs(max_paragraphs=100, max_mentions=5)
    for n in range(4):
        small.put(RecentParagraphs.digest(f"t{n}"), [mention(n), mention(n + 10)])
    assert len(small) == 2  # 2 mentions each: at most 5 held
    small.put(RecentParagraphs.digest("huge"), [mention(n) for n in range(6)])  # never held
    assert small.get(RecentParagraphs.digest("huge")) is None and len(small) == 2


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


def test_a_copy_reuses_its_unchanged_paragraphs_and_gets_the_same_entities(tagger):
    fresh = EntityTagger(recent_paragraphs=0)  # tags everything, keeps nothing
    first, tagged, reused = tagger.tag_counted(TEXT)
    assert first and (tagged, reused) == (3, 0)
    edited = TEXT.replace("Olaf Scholz was not there.", "Olaf Scholz stayed in Berlin.")
    again, tagged, reused = tagger.tag_counted(edited)
    assert (tagged, reused) == (1, 2)
    assert again == fresh.tag(edited)  # the same as tagging all of it afresh
    assert {e.surface for e in again} >= {"Angela Merkel", "Olaf Scholz", "Berlin"}
    verbatim, tagged, reused = tagger.tag_counted(TEXT)
    assert (tagged, reused) == (0, 3) and verbatim == first
    assert fresh.tag_counted(TEXT)[1:] == (3, 0) and len(fresh.recent) == 0


def test_reused_paragraphs_do_not_need_the_model(tagger):
    tagger.tag(TEXT)
    model, tagger.nlp = tagger.nlp, None  # the model cannot run now
    try:
        assert tagger.tag(TEXT) == EntityTagger(recent_paragraphs=0).tag(TEXT)
    finally:
        tagger.nlp = model
