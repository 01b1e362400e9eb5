"""`wiredesk eval dedup|stories|entities` and the scores behind them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.transform_support import demo_articles
from transform.conll import read_conll
from transform.scoring import bcubed, entity_scores, pairwise
from wiredesk.app.cli import main

CONLL = Path(__file__).parents[1] / "fixtures" / "transform" / "entities_invented.conll"


def test_pairwise_and_bcubed_scores_by_hand():
    gold = {"a": 1, "b": 1, "c": 1, "d": 2}
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y"}
    # gold pairs ab ac bc; predicted pairs ab cd; correct ab
    assert pairwise(gold, predicted).as_dict() == {"precision": 0.5, "recall": 0.3333, "f1": 0.4}
    # b-cubed precision: a 2/2, b 2/2, c 1/2, d 1/2 -> 0.75; recall: a 2/3 b 2/3 c 1/3 d 1/1
    b3 = bcubed(gold, predicted)
    assert (b3.precision, b3.recall) == (0.75, 0.6667)
    assert pairwise(gold, gold).f1 == bcubed(gold, gold).f1 == 1.0


def test_entity_scores_are_exact_span_and_type_matches():
    gold = {(0, 0, 5, "PER"), (0, 10, 16, "LOC")}
    predicted = {(0, 0, 5, "PER"), (0, 10, 16, "ORG"), (0, 20, 22, "LOC")}
    scores = entity_scores(gold, predicted, ("PER", "LOC", "ORG"))
    assert scores["ALL"]["correct"] == 1
    assert (scores["ALL"]["precision"], scores["ALL"]["recall"]) == (0.3333, 0.5)
    assert scores["PER"]["f1"] == 1.0 and scores["LOC"]["correct"] == 0


def test_conll_reader_handles_iob1_and_iob2():
    docs = read_conll(CONLL)
    assert len(docs) == 2
    spans = {docs[0].text[s:e]: label for s, e, label in docs[0].spans}
    assert spans["Port of Velmar"] == "LOC"
    assert spans["United Dock Workers Union"] == "ORG"
    assert spans["Germany"] == spans["France"] == "LOC"
    spans2 = {docs[1].text[s:e]: label for s, e, label in docs[1].spans}
    assert spans2["Emil Kastner"] == "PER" and spans2["Internet Explorer"] == "MISC"


def _write(path: Path, label: str) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for rec, wire_of, story in demo_articles():
            row = {
                "id": rec.article_id,
                "title": rec.title,
                "text": rec.text,
                "published": rec.published_at.isoformat(),
                label: (wire_of or rec.article_id) if label == "dup_group" else story,
            }
            fh.write(json.dumps(row) + "\n")
    return path


def test_eval_dedup_on_the_demo_corpus(tmp_path, capsys):
    path = _write(tmp_path / "dedup.jsonl", "dup_group")
    assert main(["eval", "dedup", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["records"] == 30 and result["flagged_duplicates"] == 9
    assert result["pairwise"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_eval_stories_reports_pairwise_and_bcubed(tmp_path, capsys):
    path = _write(tmp_path / "stories.jsonl", "story")
    assert main(["eval", "stories", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["gold_stories"] == 8
    assert result["pairwise"]["precision"] == 1.0
    assert result["bcubed"]["f1"] >= 0.8
    assert result["predicted_stories"] >= result["gold_stories"]


# an invented news snippet in CoNLL-2003's layout (IOB1: B- only between touching entities)
SNIPPET = """-DOCSTART- -X- -X- O

Ingrid NNP I-NP I-PER
Halvorsen NNP I-NP I-PER
, , O O
chief NN I-NP O
executive NN I-NP O
of IN I-PP O
Nordhaven NNP I-NP I-ORG
Shipping NNP I-NP I-ORG
, , O O
said VBD I-VP O
in IN I-PP O
Rotterdam NNP I-NP I-LOC
on IN I-PP O
Tuesday NNP I-NP O
that IN I-SBAR O
Dutch JJ I-NP I-MISC
ports NNS I-NP O
would MD I-VP O
reopen VB I-VP O
. . O O
"""


def test_eval_entities_scores_the_new_model_beside_the_old_one(tmp_path, capsys):
    path = tmp_path / "snippet.conll"
    path.write_text(SNIPPET, encoding="utf-8")
    assert main(["eval", "entities", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["documents"], result["tokens"]) == (1, 20)
    new, old = result["new"], result["baseline"]
    assert new["model"].startswith("en_wiredesk_news_ner-")
    assert old["model"].startswith("en_core_web_sm")  # the old default, same run
    for run in (new, old):
        assert set(run["scores"]) == {"PER", "LOC", "ORG", "micro", "MISC"}
        assert run["scores"]["micro"]["gold"] == 3 and run["scores"]["MISC"]["gold"] == 1
        assert run["words_per_second"] > 0
        assert run["stored_micro"]["gold"] == 3
    # the new model gets every entity of this plain sentence
    assert new["scores"]["micro"]["f1"] == 1.0 and new["scores"]["MISC"]["f1"] == 1.0

    assert main(["eval", "entities", str(path), "--baseline", "none"]) == 0
    table = capsys.readouterr().out
    assert "micro PER/LOC/ORG" in table and "NER words/s" in table
    assert "en_core_web_sm" not in table


@pytest.mark.parametrize(
    "content",
    [
        b"",  # no tokens
        b'{"id": 1, "text": "a JSONL file"}\n',
        b"Rotterdam NNP I-NP LOCATION\n",  # not an IOB tag
        b"\xff\xfe\x00binary\n",
    ],
)
def test_eval_entities_rejects_what_is_not_conll_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "bad.conll"
    path.write_bytes(content)
    assert main(["eval", "entities", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wiredesk eval entities: ") and err.count("\n") == 1
    assert main(["eval", "entities", str(tmp_path / "missing.conll")]) == 2
    assert main(["eval", "entities", str(tmp_path)]) == 2  # a directory


@pytest.mark.parametrize("what", ["dedup", "stories", "entities"])
def test_eval_rejects_a_malformed_file_with_exit_code_2(tmp_path, capsys, what):
    path = tmp_path / "bad.txt"
    path.write_text('{"id": 1}\n' if what != "entities" else "justonetoken\n")
    assert main(["eval", what, str(path)]) == 2
    assert f"wiredesk eval {what}:" in capsys.readouterr().err


def test_training_examples_keep_every_span_and_its_label():
    from transform.ner_train import chunks

    (doc, _) = read_conll(CONLL)[:2]
    whole = sorted((doc.text[s:e], k) for s, e, k in doc.spans)
    for size in (1, 2, 4):
        pieces = chunks(doc, size)
        assert "\n".join(text for text, _ in pieces) == doc.text
        assert sorted((t[s:e], k) for t, spans in pieces for s, e, k in spans) == whole
    assert ("United Dock Workers Union", "ORG") in whole
