"""Language of an article, detected from its text (not only what the page declares).

Pages declare languages they are not written in (a German page whose template says
``lang="en"``), and many declare none, so the enricher detects the language of every
article from its title and the start of its text and stores it beside the declared one
(``Article.language`` stays what the page declared; ``detected_language`` is this).
Entity tagging runs only where the detected language is one the NER model was trained
for (English); other articles get no entities, counted in
``wiredesk_entities_skipped_total{reason="language"}``. Dedup and story clustering
don't look at the language.

The detector is py3langid (see ``bench/language_id.py`` and BENCHMARKS.md for the
comparison with lingua-py): on the dev pages both are equally accurate on full texts, and
py3langid is far cheaper to load and keep (a few MB against lingua's hundreds, per
worker), fast per text, and deterministic. Its confidence is calibrated over the length
of the text; below ``MIN_CONFIDENCE`` the language is reported as unknown (None).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

SAMPLE_CHARS = 2_000  # title + start of the text: enough to decide, bounded cost
MIN_CONFIDENCE = 0.5
_URLISH = ("http://", "https://", "www.", "@")  # a token with one of these is no prose


class Detector(Protocol):
    name: str

    def detect(self, text: str) -> str | None:
        """ISO 639-1 code of the text's language, or None when unsure."""
        ...


class Py3langidDetector:
    """py3langid (naive Bayes over byte n-grams, 97 languages), probabilities normalised."""

    def __init__(self, min_confidence: float = MIN_CONFIDENCE) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.name = "py3langid"
        self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self.min_confidence = min_confidence

    def detect(self, text: str) -> str | None:
        if not text.strip():
            return None
        lang, confidence = self._model.classify(text)
        return lang if confidence >= self.min_confidence else None


class LinguaDetector:
    """lingua-py (n-gram models, 75 languages); only used by the benchmark."""

    def __init__(self) -> None:
        from lingua import LanguageDetectorBuilder

        self.name = "lingua-language-detector"
        self._model = LanguageDetectorBuilder.from_all_languages().build()

    def detect(self, text: str) -> str | None:
        found = self._model.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else None


@lru_cache(maxsize=1)
def default_detector() -> Py3langidDetector:
    return Py3langidDetector()


def sample(title: str, text: str) -> str:
    """What the language is judged on: title and the start of the text, URLs removed."""
    words = f"{title}\n{text[:SAMPLE_CHARS]}".split()
    return " ".join(w for w in words if not any(mark in w.lower() for mark in _URLISH))


def detect_language(title: str, text: str) -> str | None:
    """The article's language (ISO 639-1), or None when the text does not tell."""
    return default_detector().detect(sample(title, text))
