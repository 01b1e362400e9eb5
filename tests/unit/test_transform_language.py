"""Language routing in the enricher: detected language stored, NER only on English.

The pages are invented for this test (German, Russian, French, English news-style text).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import metric
from tests.transform_support import article
from transform.enrich import EnrichArticles, EnrichOptions
from transform.language import detect_language
from wiredesk.records import EnrichedArticle

WHEN = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
GERMAN = (
    "Am Dienstag hat der Gouverneur der Region Belgorod, Wjatscheslaw Gladkow, mitgeteilt, "
    "dass in mehreren Dörfern der Strom ausgefallen sei. Die Behörden in Moskau sprachen "
    "von einem Angriff, während Kiew jede Beteiligung bestritt. Viele Bewohner haben ihre "
    "Häuser verlassen und warten in Notunterkünften auf weitere Informationen."
)
RUSSIAN = (
    "Во вторник губернатор Белгородской области Вячеслав Гладков сообщил, что в нескольких "
    "сёлах нет электричества. В Москве заявили о нападении, а Киев отрицает свою "
    "причастность. Многие жители покинули дома и ждут новостей во временных пунктах "
    "размещения в Грайвороне."
)
FRENCH = (
    "Mardi, le gouverneur de la région de Belgorod, Viatcheslav Gladkov, a annoncé que "
    "plusieurs villages étaient privés d'électricité. Moscou parle d'une attaque, tandis "
    "que Kiev dément toute implication. De nombreux habitants ont quitté leur maison et "
    "attendent des nouvelles dans des centres d'hébergement."
)
ENGLISH = (
    "On Tuesday the governor of the Belgorod region, Vyacheslav Gladkov, said that several "
    "villages had lost power. Officials in Moscow spoke of an attack, while Kyiv denied any "
    "involvement. Many residents have left their homes and are waiting for news in shelters."
)


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        ("Stromausfall in Dörfern bei Belgorod", GERMAN, "de"),
        ("Без света остались сёла под Белгородом", RUSSIAN, "ru"),
        ("Des villages privés d'électricité près de Belgorod", FRENCH, "fr"),
        ("Villages near Belgorod lose power", ENGLISH, "en"),
    ],
)
def test_language_is_detected_from_the_text(title, text, language):
    assert detect_language(title, text) == language


def test_no_text_has_no_language():
    assert detect_language("", "   ") is None


def _enrich(stage: EnrichArticles, key: str, title: str, text: str, declared: str | None):
    record = article(key, title, f"{title}\n{text}", WHEN).model_copy(update={"language": declared})
    out, *_revisions = stage(record)  # then, perhaps, revisions of earlier articles
    assert isinstance(out, EnrichedArticle)
    return out


def test_only_english_text_is_tagged_and_other_languages_are_counted(sqlite_engine):
    stage = EnrichArticles(sqlite_engine, EnrichOptions())
    before = metric("wiredesk_entities_skipped_total", reason="language")
    pages = [
        ("de", "Stromausfall in Dörfern bei Belgorod", GERMAN, "en"),  # declared wrongly
        ("ru", "Без света остались сёла под Белгородом", RUSSIAN, "ru"),
        ("fr", "Des villages privés d'électricité près de Belgorod", FRENCH, None),
    ]
    for key, title, text, declared in pages:
        out = _enrich(stage, key, title, text, declared)
        assert out.detected_language == key
        assert out.language == declared  # the declaration is kept beside the detection
        assert out.entities == []
        assert out.story_id is not None  # stories don't depend on the language
    assert metric("wiredesk_entities_skipped_total", reason="language") == before + 3
    english = _enrich(stage, "en", "Villages near Belgorod lose power", ENGLISH, "de")
    assert english.detected_language == "en"
    assert {"belgorod", "vyacheslav-gladkov"} <= {e.canonical_id for e in english.entities}
    assert metric("wiredesk_entities_skipped_total", reason="language") == before + 3


def test_copies_of_foreign_articles_are_still_flagged(sqlite_engine):
    stage = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=False))
    verdicts = {}  # article id -> (duplicate_of, story_id), the latest revision wins
    for key, title, text in [
        ("de-1", "Stromausfall in Dörfern bei Belgorod", GERMAN),
        ("de-2", "Stromausfall bei Belgorod", GERMAN + " (dpa)"),
    ]:
        record = article(key, title, f"{title}\n{text}", WHEN).model_copy(update={"language": "de"})
        for out in stage(record):
            verdicts[out.article_id] = (out.duplicate_of, out.story_id)
    # equally dated: the original is the smaller article id, whichever came first
    original, duplicate = sorted(verdicts)
    assert verdicts[duplicate][0] == original and verdicts[original][0] is None
    assert verdicts[duplicate][1] == verdicts[original][1]  # one story
