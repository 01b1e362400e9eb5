"""Issue 17: a verbatim copy's text is not tagged again; the result is the same."""

from __future__ import annotations

from transform.entities import EntityTagger, RecentTags
from wiredesk.records import Entity


def entity(n: int) -> Entity:
    return Entity(canonical_id=f"id{n}", name=f"N{n}", label="PER", surface=f"N{n}", start=0, end=2)


def test_recent_tags_returns_what_was_put_and_forgets_the_least_recent_first():
    recent = RecentTags(max_texts=2, max_mentions=100)
    a, b, c = (RecentTags.digest(t) for t in ("text a", "text b", "text c"))
    recent.put(a, [entity(1)])
    recent.put(b, [entity(2)])
    assert recent.get(a) == [entity(1)]  # a is now the most recent
    recent.put(c, [entity(3)])
    assert recent.get(b) is None and recent.get(a) == [entity(1)] and len(recent) == 2


def test_recent_tags_is_bounded_by_the_mentions_it_holds():
    recent = RecentTags(max_texts=100, max_mentions=5)
    for n in range(4):
        recent.put(RecentTags.digest(f"t{n}"), [entity(n), entity(n + 10)])
    assert len(recent) == 2  # 2 mentions each: at most 5 held
    recent.put(RecentTags.digest("huge"), [entity(n) for n in range(6)])  # never held
    assert recent.get(RecentTags.digest("huge")) is None and len(recent) == 2


def test_a_verbatim_copy_gets_the_same_entities_without_running_the_model():
    tagger = EntityTagger()
    text = (
        "Angela Merkel met Emmanuel Macron in Paris on Tuesday, Reuters reported. "
        "The talks at the Elysee Palace were about Airbus."
    )
    first, cached_first = tagger.tag_counted(text)
    again, cached_again = tagger.tag_counted(text)
    edited, cached_edited = tagger.tag_counted(text + " ")
    assert first and not cached_first and cached_again and not cached_edited
    assert again == first == tagger.tag(text)
    assert edited == first  # a trailing space changes the digest, not the entities
    tagger.nlp = None  # the model cannot run now: a hit must not need it
    assert tagger.tag(text) == first
