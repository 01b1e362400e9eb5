"""The entity-merge eval after the story entity map, as deployed: the ECB+ documents are
clustered into stories by the deployed story model (:func:`transform.storysim.cluster` at
its default threshold, entities from the deployed tagger; the file's gold topics and
events are never read), each story's map is :func:`wiredesk.story_entities.resolve_story`
over the (canonical id, label) pairs of its documents' names, and a name's key is its
canonical id resolved through its document's story map. A name without a document (the
transliteration pairs) or whose document is not in the file keeps its canonical id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transform import storysim
from transform.eval_stories import read_items, tag_entities
from wiredesk.story_entities import resolve_story


def doc_stories(path: Path, ner_model: str | None) -> tuple[dict[str, str], str]:
    """Document id -> story (the smallest document id of its storysim component), and the
    tagger that gave the story model its entities."""
    items, _ = read_items(path)
    entities, ner = tag_entities(items, ner_model)
    feats = [
        storysim.story_features(i.title, i.text, e, i.published)
        for i, e in zip(items, entities, strict=True)
    ]
    labels = storysim.cluster(feats, storysim.DEFAULT_THRESHOLD)
    first: dict[int, str] = {}
    for item, label in zip(items, labels, strict=True):
        first[label] = min(first.get(label, item.id), item.id)
    return {item.id: first[label] for item, label in zip(items, labels, strict=True)}, ner


def story_key(
    pairs: list[dict[str, Any]],
    stories: dict[str, str],
    merged_id: Callable[[dict[str, Any]], str],
) -> tuple[Callable[[dict[str, Any]], str], dict[str, int]]:
    """The key of a name after its story's map, and counts (stories, mapped ids)."""
    members: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in pairs:
        for item in (row["a"], row["b"]):
            doc = item.get("doc")
            if doc not in stories:
                continue
            names = [(item["name"], item["label"]), *map(tuple, item.get("context", []))]
            for name, label in names:
                context = [list(n) for n in names if n[0] != name]
                one = {"name": name, "label": label, "context": context}
                members[stories[doc]].add((merged_id(one), str(label)))
    maps = {sid: resolve_story(pairs_) for sid, pairs_ in members.items()}

    def key(item: dict[str, Any]) -> str:
        cid = merged_id(item)
        story = stories.get(str(item.get("doc")))
        return maps[story].get(cid, cid) if story in maps else cid

    counts = {"stories": len(maps), "mapped_ids": sum(len(m) for m in maps.values())}
    return key, counts
