"""Eval commands never traceback (issue 11, item 6): records they cannot score are counted
and reported, a file in the wrong format is refused with exit 2, and ``eval extraction``
scores gold_with/gold_without snippets as trafilatura's own evaluation does."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ingest.evaluate import snippet_counts, snippet_scores
from tests.transform_support import demo_articles
from wiredesk.app.cli import main

PAGE = """<html><head><title>Harbour cranes idle</title></head><body>
<nav>Home | World | Sport | Subscribe to the Valley Clarion</nav>
<article><h1>Harbour cranes idle as dock strike enters second week</h1>
<p>Cranes at the port of Velmar stood idle for an eighth day on Tuesday as the dock
workers' strike over shift patterns showed no sign of ending.</p>
<p>The union said its members would return only when the port operator withdrew the new
rota, which it says cuts rest time between night shifts to nine hours.</p>
<p>Shipping lines have begun diverting container vessels to the neighbouring port of
Astrel, where waiting times have doubled since the weekend.</p></article>
<footer>Comments are closed. Copyright Valley Clarion Media Group.</footer>
</body></html>"""


def _dedup_rows() -> list[dict]:
    rows = []
    for rec, wire_of, _ in demo_articles()[:10]:
        rows.append(
            {
                "id": rec.article_id,
                "title": rec.title,
                "text": rec.text,
                "published": rec.published_at.isoformat(),
                "dup_group": wire_of or rec.article_id,
                "story": "s",
            }
        )
    return rows


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("what", ["dedup", "stories"])
def test_records_the_stage_cannot_take_are_counted_not_raised(tmp_path, capsys, what):
    rows = _dedup_rows()
    oneliner = {**rows[0], "id": "one-line", "title": "Short", "text": "..."}  # no words
    ancient = {**rows[1], "id": "ancient", "published": "0001-01-01T00:00:00+00:00"}
    wrong_type = {**rows[2], "id": "wrong-type", "text": None}
    path = _write_jsonl(tmp_path / "rows.jsonl", [*rows, oneliner, ancient, wrong_type])
    assert main(["eval", what, str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["records"] == 13
    unscored = result["unscored"]
    assert unscored.get("no_text") == 1  # BadInput("no_text") of the one-line article
    assert unscored.get("ValidationError") == 1  # text: null
    # the 0001-01-01 record is either taken (dates guarded) or counted, never raised
    assert sum(unscored.values()) in (2, 3)
    if what == "dedup":
        assert result["pairwise"]["precision"] == 1.0


@pytest.mark.parametrize("what", ["dedup", "stories", "entities", "extraction"])
@pytest.mark.parametrize(
    "content",
    [b"", b"not json at all\n", b"[1, 2, 3]\n", b"42\n", b"\x1f\x8b\x08\x00garbage"],
    ids=["empty", "text", "list", "scalar", "broken-gzip"],
)
def test_a_file_in_the_wrong_format_is_refused_with_exit_2(tmp_path, capsys, what, content):
    path = tmp_path / "wrong.jsonl"
    path.write_bytes(content)
    assert main(["eval", what, str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"wiredesk eval {what}:") and "\n" not in err
    assert "Traceback" not in err


def test_extraction_refuses_pages_without_any_gold(tmp_path, capsys):
    path = _write_jsonl(tmp_path / "nogold.jsonl", [{"id": "a", "html": PAGE, "url": "u"}])
    assert main(["eval", "extraction", str(path), "--json"]) == 2
    assert "no record has html with gold_text or gold_with/gold_without" in (
        capsys.readouterr().err
    )


def test_snippet_counts_follow_trafilaturas_evaluation():
    rec = {"gold_with": ["a  b", "c d", "zz"], "gold_without": ["nav bar", "footer"]}
    assert snippet_counts(rec, "a b\nc d and the nav bar") == (2, 1, 1, 1)
    assert snippet_counts(rec, None) == (0, 3, 0, 2)  # nothing extracted
    scores = snippet_scores([(2, 1, 1, 1), (0, 3, 0, 2)])
    assert (scores["tp"], scores["fn"], scores["fp"], scores["tn"]) == (2, 4, 1, 3)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 6)
    assert scores["accuracy"] == pytest.approx(5 / 10)
    p, r = 2 / 3, 2 / 6
    assert scores["f1"] == pytest.approx(2 * p * r / (p + r))


def test_eval_extraction_scores_snippet_pages_and_counts_the_rest(tmp_path, capsys):
    snippets = {
        "id": "velmar",
        "url": "https://clarion.example/velmar",
        "html": PAGE,
        "gold_text": None,
        "gold_with": ["stood idle for an eighth day", "diverting container vessels"],
        "gold_without": ["Home | World | Sport", "Comments are closed"],
    }
    rows = [snippets, {"id": "no-html", "gold_with": ["x"]}, "a string, not an object"]
    path = tmp_path / "snippets.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    assert main(["eval", "extraction", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pages"] == 1
    assert result["unscored"] == {"no_html": 1, "not_an_object": 1}
    s = result["snippets"]
    assert (s["tp"], s["fn"]) == (2, 0)  # the article's sentences are extracted
    assert s["fp"] + s["tn"] == 2 and s["recall"] == 1.0
    assert "precision" not in result  # no gold_text page: no token score at all
    assert main(["eval", "extraction", str(path)]) == 0
    out = capsys.readouterr().out
    assert "gold snippets, 1 pages" in out and "2 unscorable" in out


def test_eval_stories_reads_a_gzipped_ecbplus_file(tmp_path, capsys, monkeypatch):
    """The ECB+ dev format ({id, text, cluster_id}, gzipped, no title or date) is read as
    ``eval stories-offline`` reads it, instead of being refused."""
    monkeypatch.setenv("WIREDESK_NER_ENABLED", "false")
    demo = demo_articles()[:10]
    path = tmp_path / "ecb.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for rec, _, story in demo:
            row = {"id": rec.article_id, "topic": 1, "cluster_id": story, "text": rec.text}
            fh.write(json.dumps(row) + "\n")
    assert main(["eval", "stories", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["records"], result["unscored"]) == (10, {})
    assert result["gold_stories"] == len({story for _, _, story in demo})
    assert result["pairwise"]["recall"] > 0  # wire copies share their original's story
    assert 0 < result["bcubed"]["f1"] <= 1
