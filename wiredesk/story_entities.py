"""Entity ids resolved within a story: a bare surname, a middle name given in one article
only, an acronym, mapped to the one full id of the story that it names.

:mod:`transform.canonical` gives ids as a pure function of one article, so it cannot
relate ``heller`` in one article to ``mark-jay-heller`` in another. This module does, as a
pure function of the story's current set of (entity id, label) pairs, so the map is the
same whatever the arrival order, replays or worker count; the sink recomputes it with
the story row (never accumulates it: uniqueness is not monotone). Rules, each requiring a
**unique** target among the story's ids of the same kind (person or not):

1. a person id ``first-last`` -> the one person id ``first-...-last`` with middle names;
2. a one-word person id ``s`` -> the one multi-word person id ending in ``-s`` (counted
   after rule 1, so ``mark-heller`` and ``mark-jay-heller`` are one target);
3. an all-letter id of 2-6 letters that is not a person -> the one multi-word non-person
   id whose initials it is (``usgs``, ``us``; connectors such as ``of`` may be skipped).

0. before these, spelling variants (:func:`wiredesk.names.sounds_alike`, on the id's
   words: :func:`~wiredesk.names.similar`, ``malcom-tucker`` / ``malcolm-tucker``, or,
   within a story only, a garbled word whose consonant skeleton of 5+ letters is one edit
   from the other's with the same first and last letter, ``gregoron`` / ``graivoron``;
   never ``nazarbayev`` / ``nazarbayeva``) ->
   the preferred spelling (most words, then longest, then smallest), only where every
   two ids of the group are variants of each other (no chains: A~B, B~C, A!~C is left
   alone).

It lives in the core, not in a stage, because the sink applies it and the entity-merge
eval (``transform``) measures it, and stages do not import each other.

No unique target: no mapping (``peterson`` beside ``laci-peterson`` and
``scott-peterson`` stays ``peterson``). A resolved id is never itself mapped (no chains).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable

from wiredesk.names import Groups, sounds_alike

PERSON_LABELS = frozenset({"PER", "PERSON"})
_CONNECTORS = frozenset({"of", "the", "and", "for", "de", "del", "la", "le", "du", "von", "van"})
ACRONYM_LENGTHS = range(2, 7)


def _is_person(labels: set[str]) -> bool:
    return bool(labels & PERSON_LABELS)


def _initials(words: list[str]) -> set[str]:
    """The initials of a multi-word id, with and without its connector words."""
    every = "".join(w[0] for w in words if w)
    content = "".join(w[0] for w in words if w and w not in _CONNECTORS)
    return {every, content}


def resolve_story(members: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Map ``entity_id -> resolved_id`` for a story's (entity id, label) pairs.

    Only ids that change are in the map. An id seen with a person label in any member is a
    person (the kind is a function of the set, not of the order).
    """
    labels: dict[str, set[str]] = defaultdict(set)
    for entity_id, label in members:
        if entity_id:
            labels[entity_id].add(label)
    variants = _spelling_variants(labels)
    people = sorted({variants.get(i, i) for i, ls in labels.items() if _is_person(ls)})
    things = sorted({variants.get(i, i) for i, ls in labels.items() if not _is_person(ls)})
    mapping: dict[str, str] = {}

    # 1. first-last -> the one first-...-last
    long_names: dict[tuple[str, str], list[str]] = defaultdict(list)
    for pid in people:
        words = pid.split("-")
        if len(words) >= 3:
            long_names[(words[0], words[-1])].append(pid)
    for pid in people:
        words = pid.split("-")
        if len(words) == 2 and len(targets := long_names.get((words[0], words[1]), [])) == 1:
            mapping[pid] = targets[0]

    # 2. surname -> the one multi-word person id ending in it (after rule 1)
    by_surname: dict[str, set[str]] = defaultdict(set)
    for pid in people:
        words = pid.split("-")
        if len(words) >= 2:
            by_surname[words[-1]].add(mapping.get(pid, pid))
    for pid in people:
        if "-" not in pid and len(targets := by_surname.get(pid, set())) == 1:
            mapping[pid] = next(iter(targets))

    # 3. acronym -> the one multi-word non-person id with those initials
    by_initials: dict[str, set[str]] = defaultdict(set)
    for tid in things:
        words = tid.split("-")
        if len(words) >= 2:
            for initials in _initials(words):
                by_initials[initials].add(tid)
    for tid in things:
        acronym = tid.isalpha() and tid.isascii() and len(tid) in ACRONYM_LENGTHS
        if acronym and len(targets := by_initials.get(tid, set())) == 1:
            mapping[tid] = next(iter(targets))
    resolved = {}
    for entity_id in labels:
        target = variants.get(entity_id, entity_id)
        target = mapping.get(target, target)
        if target != entity_id:
            resolved[entity_id] = target
    return resolved


def _spelling_variants(labels: dict[str, set[str]]) -> dict[str, str]:
    """Map each id of a group of spelling variants (same kind, pairwise similar) to the
    group's preferred id."""
    ids = sorted(labels)
    words = {i: i.replace("-", " ") for i in ids}
    pairs = {
        (a, b)
        for a, b in itertools.combinations(ids, 2)
        if _is_person(labels[a]) == _is_person(labels[b]) and sounds_alike(words[a], words[b])
    }
    variants = Groups(ids)
    for a, b in pairs:
        variants.union(a, b)
    mapping: dict[str, str] = {}
    for group in variants.groups():
        # pairwise similar only: a chain (A~B, B~C, A!~C) is left alone
        if len(group) < 2 or not pairs.issuperset(itertools.combinations(group, 2)):
            continue
        preferred = min(group, key=lambda i: (-i.count("-"), -len(i), i))
        mapping |= {i: preferred for i in group if i != preferred}
    return mapping
