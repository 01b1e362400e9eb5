"""Prometheus metrics of the enrich stage (labels are short, bounded codes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

VERDICTS = Counter(
    "wiredesk_transform_verdicts_total",
    "Dedup verdicts: original, exact or near copy, or stored (a replayed article)",
    ["kind"],
)
STORIES = Counter(
    "wiredesk_transform_stories_total",
    "Story decisions: new story, joined a story, group (a copy follows its canonical), stored",
    ["outcome"],
)
ENTITY_SOURCE = Counter(
    "wiredesk_transform_entity_source_total",
    "How an article got its entities: model (NER ran on its text), off (NER disabled)",
    ["source"],
)
NER_PARAGRAPHS = Counter(
    "wiredesk_transform_ner_paragraphs_total",
    "Paragraphs of tagged articles: tagged (the model ran on them), reused (the same "
    "paragraph was tagged recently, transform.entities.RecentParagraphs: its mentions)",
    ["how"],
)
STEP_SECONDS = Histogram(
    "wiredesk_transform_step_seconds",
    "Time per article in each enrich step: fingerprint, dedup, language, ner, reuse, story",
    ["step"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REVISIONS = Counter(
    "wiredesk_enrich_revisions_total",
    "Verdicts of already decided articles changed by a later arrival: canonical (an "
    "earlier copy or a group merge changed duplicate_of/similarity) or story (stories merged)",
    ["kind"],
)
REVISIONS_EMITTED = Counter(
    "wiredesk_enrich_revision_records_total",
    "Revision records published on news.enriched: pending (first emission) or re-emitted "
    "(the emitting article was redelivered)",
    ["how"],
)
UNTRUSTED_DATES = Counter(
    "wiredesk_transform_untrusted_dates_total",
    "Publication dates treated as unknown (kept in published_at_claimed): before_1990 or "
    "future (over a day after the fetch)",
    ["reason"],
)
PRUNED = Counter(
    "wiredesk_transform_pruned_total", "State rows deleted by the retention window", ["table"]
)
ENTITIES_SKIPPED = Counter(
    "wiredesk_entities_skipped_total",
    "Articles that got no entity tagging, by reason: language (the detected language is "
    "not one the NER model was trained for), withheld (the rights policy kept the text out)",
    ["reason"],
)
LANGUAGES = Counter(
    "wiredesk_transform_languages_total",
    "Articles by detected language (ISO 639-1; und when the text does not tell)",
    ["language"],
)
