"""Transform stages: content logic with no network access (dedup, stories, entities)."""
