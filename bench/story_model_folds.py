"""Two-fold topic check of the story model's threshold on ECB+ dev (is 0.475 a lucky peak?).

    .venv/bin/python bench/story_model_folds.py [--data ../shared/data]

Splits the dev topics in two halves (topics 1-21 and 23-45), picks each method's best
threshold on one half and scores it on the other: the model (no NER), TF-IDF single-link
and the online centroid (IDF from the scored half). Prints B-cubed F1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transform import eval_stories as ev
from transform import storysim

ROOT = Path(__file__).resolve().parents[1]


def _at(rows: list[dict], threshold: float) -> float:
    return next(r["bcubed"]["f1"] for r in rows if r["threshold"] == threshold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    path = parser.parse_args().data / "ecbplus_dev.jsonl.gz"
    items, _ = ev.read_items(path)
    halves = {
        "topics 1-21": [i for i in items if int(i.gold.split("_")[0]) <= 21],
        "topics 23-45": [i for i in items if int(i.gold.split("_")[0]) > 21],
    }
    sweeps = {}
    for name, part in halves.items():
        feats = [storysim.story_features(i.title, i.text, (), i.published) for i in part]
        vecs = ev.tfidf_vectors(part)
        sweeps[name] = {
            "model": ev.model_sweep(part, feats)[0],
            "TF-IDF single-link": ev.single_link_sweep(part, vecs),
            "online centroid": ev.centroid_sweep(part, vecs),
        }
    for tune, test in (("topics 1-21", "topics 23-45"), ("topics 23-45", "topics 1-21")):
        for method, rows in sweeps[tune].items():
            t = ev._best(rows)["threshold"]
            best = ev._best(sweeps[test][method])
            print(
                f"{method:<20} threshold {t:<6} from {tune:<13} -> B3-F1 on {test}: "
                f"{_at(sweeps[test][method], t):.3f} (its best there {best['bcubed']['f1']:.3f}"
                f" at {best['threshold']})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
