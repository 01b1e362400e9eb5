"""Near copies after heavy edits (issue 11, item 4): containment sketches, single-value
bands, the symmetric copy predicate, and what must stay apart."""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from devserver.server import load_corpus
from tests.transform_support import SHARED_DATA, article
from transform import minhash, nearcopy, nearcopy_eval
from transform.dedup import DedupIndex, Fingerprint, fingerprint
from transform.enrich import EnrichArticles, EnrichOptions
from transform.heavycopy import BEYOND, KINDS, heavy_copy
from transform.text import shingles, tokens
from transform.wirecopy import DevArticle
from wiredesk.app.cli import main

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
INDEX = DedupIndex(None)  # type: ignore[arg-type]  (similarity needs no database)


def _originals() -> list[DevArticle]:
    """The demo corpus's stories that are not wire copies (invented text, 160-350 words)."""
    corpus = sorted(load_corpus().articles, key=lambda a: a.id)
    return [
        DevArticle(a.id, a.title, "\n\n".join((a.title, *a.paragraphs)), T0)
        for a in corpus
        if a.wire_of is None
    ]


def _fp(item: DevArticle) -> Fingerprint:
    return fingerprint(item.title, item.text)


def test_sketch_counts_are_exact_for_texts_within_the_sketch():
    a = shingles(tokens("", " ".join(f"w{i}" for i in range(300))))
    b = shingles(tokens("", " ".join(f"w{i}" for i in range(200, 700))))
    pa = nearcopy.unpack(nearcopy.pack(minhash.signature(a), [], a))
    pb = nearcopy.unpack(nearcopy.pack(minhash.signature(b), [], b))
    assert pa.sketch is not None and pb.sketch is not None
    counted = nearcopy.count(pa.sketch, pb.sketch)
    assert counted.sampled_all  # 296 and 496 shingles: both sketches hold every one
    assert counted.shared == len(a & b) == 96
    assert counted.containment == pytest.approx(96 / 296)
    assert counted.jaccard == pytest.approx(96 / len(a | b))
    assert np.all(np.diff(pa.sketch.astype(np.int64)) > 0)  # sorted, unique


def test_long_texts_are_compared_on_the_hash_range_both_sketches_hold():
    big = shingles(tokens("", " ".join(f"w{i}" for i in range(5000))))
    part = shingles(tokens("", " ".join(f"w{i}" for i in range(1000, 1600))))
    pb = nearcopy.unpack(nearcopy.pack(minhash.signature(big), [], big))
    pp = nearcopy.unpack(nearcopy.pack(minhash.signature(part), [], part))
    assert pb.sketch is not None and pp.sketch is not None
    assert pb.sketch.size == nearcopy.SKETCH_SIZE
    counted = nearcopy.count(pb.sketch, pp.sketch)
    assert not counted.sampled_all and counted.smaller >= 60
    assert counted.containment == 1.0  # every sampled shingle of the part is in the whole


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("followup", *BEYOND)])
def test_heavily_edited_copies_are_copies_both_ways(kind):
    originals = _originals()
    found = 0
    for original in originals:
        copy = heavy_copy(original, kind, seed=3)
        a, b = _fp(original), _fp(copy)
        forward, backward = INDEX.similarity(a, b), INDEX.similarity(b, a)
        assert forward == backward  # one symmetric decision, whatever the order
        found += forward is not None
    assert found >= len(originals) - 1, f"{kind}: {found} of {len(originals)}"


def test_padded_copies_share_a_band_that_the_old_bands_missed():
    """Five times its length of outlet material: the old 20 three-row body bands and the
    lead bands share nothing; the single-value bands still find the original."""
    found_old = found_new = 0
    for original in _originals():
        copy = heavy_copy(original, "padded", seed=3)
        found_new += bool(set(_fp(original).bands) & set(_fp(copy).bands))
        old_o = nearcopy_eval.baseline_fingerprint(original.title, original.text)
        old_c = nearcopy_eval.baseline_fingerprint(copy.title, copy.text)
        found_old += bool(set(old_o.bands) & set(old_c.bands))
    total = len(_originals())
    assert found_new == total
    assert found_old < total


def test_a_follow_up_reusing_background_is_not_a_copy_of_the_earlier_story():
    """Story B on the same topic reuses the closing sentences of story A as background:
    B is a copy of its own original, never of A -- in either order."""
    originals = _originals()
    for new, old in itertools.pairwise(originals):
        follow_up = heavy_copy(new, "followup", seed=3, background=old)
        a, b = _fp(old), _fp(follow_up)
        assert INDEX.similarity(a, b) is None and INDEX.similarity(b, a) is None
        assert INDEX.similarity(_fp(new), b) is not None


def test_same_event_write_ups_of_one_topic_are_not_copies():
    corpus = load_corpus().articles
    stories: dict[str, list] = {}
    for a in corpus:
        if a.wire_of is None:
            stories.setdefault(a.story, []).append(a)
    pairs = 0
    for items in stories.values():
        for x, y in itertools.combinations(items, 2):
            fx = fingerprint(x.title, "\n\n".join(x.paragraphs))
            fy = fingerprint(y.title, "\n\n".join(y.paragraphs))
            assert INDEX.similarity(fx, fy) is None, (x.id, y.id)
            pairs += 1
    assert pairs >= 5


def test_rows_stored_before_sketches_are_verified_on_the_minhash_estimate():
    original = _originals()[0]
    copy = heavy_copy(original, "cut", seed=3)
    new = _fp(copy)
    old = _fp(original)
    bare = Fingerprint(  # a row written by the previous scheme: the MinHash values only
        old.content_hash,
        old.shingle_count,
        nearcopy.unpack(old.signature).minhash,
        old.lead_signature,
        [],
    )
    assert len(bare.signature) == minhash.NUM_PERM * 4
    assert INDEX.similarity(new, bare) == INDEX.similarity(bare, new)
    assert INDEX.similarity(new, bare) is not None  # the copy keeps its lead


def test_the_stage_groups_heavy_copies_with_their_original(sqlite_engine):
    stage = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=False))
    originals = _originals()[:4]
    for original in originals:
        list(stage(article(original.id, original.title, original.text, original.published)))
    for original in originals:
        ids = {}
        for kind in ("cut", "padded", "lede", "mixed"):
            copy = heavy_copy(original, kind, seed=5)
            rec = article(copy.id, copy.title, copy.text, copy.published, site=kind)
            (out,) = stage(rec)
            ids[kind] = out.duplicate_of
        expected = article(original.id, "", "", None).article_id
        assert set(ids.values()) == {expected}, ids


def test_eval_dedup_reports_recall_by_edit_kind_and_the_baseline(tmp_path, capsys):
    rows = []
    for original in _originals()[:6]:
        rows.append({**original.as_json(), "dup_group": original.id})
        for kind in ("cut", "padded"):
            copy = heavy_copy(original, kind, seed=9)
            rows.append({**copy.as_json(), "dup_group": original.id})
    path = tmp_path / "dedup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "dedup", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["by_edit"]["padded"]["copies"] == 6
    assert result["by_edit"]["heavy"]["recall"] == 1.0
    assert result["false_merges"] == {"pairs": 0, "groups": 0}
    assert set(result["predicate"]) == {"nearcopy", "baseline"}
    for run in result["predicate"].values():
        assert {"pairwise", "false_merges", "by_edit", "cost"} <= set(run)
    assert main(["eval", "dedup", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recall padded" in out and "baseline" in out


def _bbc_gold() -> list[DevArticle]:
    """The BBC articles with the dev-set builder's dup_group labels."""
    if not (SHARED_DATA / "bbc_news_fulltext.jsonl.gz").exists():
        pytest.skip(f"{SHARED_DATA} has no bbc_news_fulltext.jsonl.gz (shared dev data)")
    path = Path(__file__).resolve().parents[2] / "bench" / "build_transform_devsets.py"
    spec = importlib.util.spec_from_file_location("build_transform_devsets", path)
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.bbc(SHARED_DATA, random.Random(builder.SEED))


def test_no_false_merge_on_the_bbc_background():
    """All 2,225 real BBC articles (different stories, 98 exact duplicates and a few real
    near copies, labelled from exact 5-gram overlap by the dev-set builder)."""
    articles = _bbc_gold()
    rows = [{**a.as_json(), "dup_group": a.labels["dup_group"]} for a in articles]
    rows.sort(key=lambda r: (r["published"], r["id"]))
    predicted, cost = nearcopy_eval.replay(rows, fingerprint, INDEX.similarity)
    scored = nearcopy_eval.score(rows, predicted)
    assert scored["false_merges"] == {"pairs": 0, "groups": 0}
    assert scored["pairwise"]["recall"] >= 0.99
    assert len(rows) == 2225 and cost["candidates_per_article"] <= 20
