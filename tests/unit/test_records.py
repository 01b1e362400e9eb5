import json
from datetime import UTC, datetime

import pytest

from wiredesk.records import (
    Article,
    DeadLetter,
    DecodeError,
    EnrichedArticle,
    Entity,
    Link,
    RawPage,
    url_id,
)
from wiredesk.topics import ALL_TOPICS

WHEN = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


def article(**kw):
    base = dict(
        article_id="a" * 32,
        url="http://x/1",
        title="T",
        text="body",
        extractor_version="trafilatura-2.3.1",
        content_hash="h" * 64,
        published_at=WHEN,
    )
    return Article(**{**base, **kw})


SAMPLES = [
    Link(url="http://x/1", article_id=url_id("http://x/1"), entry_published=WHEN),
    RawPage(
        article_id="a" * 32, url="http://x/1", final_url="http://x/1", status=200, html="<p>hi</p>"
    ),
    article(),
    EnrichedArticle(
        **article().model_dump(exclude={"schema_name"}),
        duplicate_of="b" * 32,
        entities=[
            Entity(
                canonical_id="loc:belgorod",
                name="Belgorod",
                label="LOC",
                surface="Belgorod",
                start=0,
                end=8,
            )
        ],
    ),
    DeadLetter(
        stage="s",
        source_topic="news.raw",
        partition=1,
        offset=7,
        reason="r",
        detail="d",
        original="eA==",
    ),
]


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_round_trip_keeps_every_field_and_names_its_schema(record):
    encoded = record.encode()
    assert json.loads(encoded)["schema"] == type(record).SCHEMA
    assert type(record).decode(encoded) == record


def test_every_topic_carries_a_distinct_versioned_schema():
    schemas = [t.record_type.SCHEMA for t in ALL_TOPICS]
    assert len(set(schemas)) == len(schemas)
    for topic in ALL_TOPICS:
        name, _, version = topic.record_type.SCHEMA.rpartition("/")
        assert name == topic.name and version.isdigit()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not utf-8", "not_json"),
        (b"{truncated", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'{"schema": "news.links/99", "url": "x"}', "wrong_schema"),
        (b'{"url": "x"}', "wrong_schema"),
        (b'{"schema": "news.links/1", "url": "x"}', "invalid"),
        (b'{"schema": "news.links/1", "url": "x", "article_id": "y", "surprise": 1}', "invalid"),
        (None, "empty"),
    ],
)
def test_bad_messages_raise_decode_error_with_reason(value, reason):
    with pytest.raises(DecodeError) as info:
        Link.decode(value)
    assert info.value.reason == reason


def test_an_article_is_not_accepted_where_an_enriched_article_is_expected():
    with pytest.raises(DecodeError) as info:
        EnrichedArticle.decode(article().encode())
    assert info.value.reason == "wrong_schema"


def test_keys_keep_one_article_on_one_partition():
    link = SAMPLES[0]
    assert link.key() == "x"  # its host: one host's links on one partition (hostroute)
    assert article().key() == "a" * 32
    assert url_id("http://x/1") == url_id("http://x/1") != url_id("http://x/2")
    assert len(url_id("http://x/1")) == 32
