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
    "How an article got its entities: model (NER ran), reused (a copy reused its "
    "canonical's), fallback (a copy whose canonical had none stored yet ran NER), off",
    ["source"],
)
STEP_SECONDS = Histogram(
    "wiredesk_transform_step_seconds",
    "Time per article in each enrich step: fingerprint, dedup, language, ner, reuse, story",
    ["step"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
PRUNED = Counter(
    "wiredesk_transform_pruned_total", "State rows deleted by the retention window", ["table"]
)
ENTITIES_SKIPPED = Counter(
    "wiredesk_entities_skipped_total",
    "Articles that got no entity tagging, by reason: language (the detected language is "
    "not one the NER model was trained for)",
    ["reason"],
)
LANGUAGES = Counter(
    "wiredesk_transform_languages_total",
    "Articles by detected language (ISO 639-1; und when the text does not tell)",
    ["language"],
)
