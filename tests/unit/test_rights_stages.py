"""Rights in each stage (issue 15, part 3): tdmrep.json fetched once per host and never
failing the page, the fetcher's evidence, the extractor's policy, and an enricher that
stores an article whose text was withheld."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from devserver.server import Faults, NewsServer, load_corpus
from ingest.backfill import read_pages
from ingest.extract import ExtractArticles
from ingest.http import make_client
from ingest.pages import FetchPages
from ingest.politeness import HostGate
from ingest.robots import RobotsCache
from ingest.tdmrep import TDMREP_PATH, TdmRepCache
from tests.conftest import metric
from tests.ingest_support import link, options
from tests.transform_support import article
from transform.enrich import EnrichArticles, EnrichOptions
from wiredesk.records import EnrichedArticle, RawPage

TDMREP = json.dumps([{"location": "/harbourherald/*", "tdm-reservation": 1}])


def _pages(server: NewsServer, site: str, n: int = 3) -> list[str]:
    return [server.base_url + a.path for a in server.corpus.articles if a.site == site][:n]


def _tdmrep_requests(server: NewsServer) -> list[int]:
    return [status for _, path, status in server.requests_log if path == TDMREP_PATH]


# -- tdmrep.json -------------------------------------------------------------------------
def test_tdmrep_is_fetched_once_per_host_and_matched_per_page():
    with NewsServer(load_corpus(), faults=Faults(tdmrep_json=TDMREP)) as server:
        opts = options([server.port])
        cache = TdmRepCache(make_client(opts), opts)
        for url in _pages(server, "harbourherald"):
            assert cache.evidence(url) == ["tdmrep:/harbourherald/* tdm-reservation=1"]
        for url in _pages(server, "valleyclarion"):
            assert cache.evidence(url) == []  # a rule for other paths only: not reserved
        assert _tdmrep_requests(server) == [200]


@pytest.mark.parametrize(
    ("faults", "status", "outcome"),
    [
        (Faults(), 404, "absent"),  # no file: nothing reserved by it
        (Faults(fail_paths={TDMREP_PATH: 503}), 503, "unknown"),
        (Faults(fail_paths={TDMREP_PATH: 429}, retry_after=5), 429, "unknown"),
        (Faults(raw_bodies={TDMREP_PATH: (200, "application/json", b"[{oops")}), 200, "invalid"),
        (Faults(huge_body_paths={TDMREP_PATH: 2_000_000}), 200, "unknown"),  # over 64 KiB
        (Faults(redirects={TDMREP_PATH: "http://169.254.169.254/latest/"}), 302, "unknown"),
    ],
    ids=["404", "503", "429", "not-json", "too-big", "redirect-to-metadata-address"],
)
def test_a_tdmrep_that_cannot_be_read_is_unknown_and_never_raises(faults, status, outcome):
    before = metric("wiredesk_tdmrep_total", outcome=outcome)
    with NewsServer(load_corpus(), faults=faults) as server:
        opts = options([server.port])
        cache = TdmRepCache(make_client(opts), opts)
        url = _pages(server, "harbourherald", 1)[0]
        expected = [] if outcome == "absent" else ["tdmrep:unknown"]
        assert cache.evidence(url) == expected
        assert cache.evidence(url) == expected  # cached: not asked again
        assert _tdmrep_requests(server) == [status]
    assert metric("wiredesk_tdmrep_total", outcome=outcome) - before == 1


def test_a_refused_host_is_unknown_without_a_request():
    with NewsServer(load_corpus(), faults=Faults(tdmrep_json=TDMREP)) as server:
        opts = options([])  # loopback not allowed: the guard refuses before connecting
        cache = TdmRepCache(make_client(opts), opts)
        assert cache.evidence(_pages(server, "harbourherald", 1)[0]) == ["tdmrep:unknown"]
        assert server.requests_log == []


# -- the fetcher -------------------------------------------------------------------------
def test_fetched_pages_carry_header_robots_and_tdmrep_evidence():
    faults = Faults(
        tdmrep_json=TDMREP,
        robots_txt="User-agent: *\nAllow: /\n\nUser-agent: CCBot\nDisallow: /valleyclarion/\n",
        page_headers={"/harbourherald/*": {"X-Robots-Tag": "noai", "TDM-Policy": "https://p.x/"}},
    )
    with NewsServer(load_corpus(), faults=faults) as server:
        opts = options([server.port])
        client = make_client(opts)
        robots, tdmrep = RobotsCache(client, opts), TdmRepCache(client, opts)
        fetcher = FetchPages(client, opts, HostGate(min_delay_s=0), robots, 2, tdmrep)
        try:
            hh = fetcher.fetch(link(_pages(server, "harbourherald", 1)[0]))
            vc = fetcher.fetch(link(_pages(server, "valleyclarion", 1)[0]))
            cb = fetcher.fetch(link(_pages(server, "coastlinebulletin", 1)[0]))
            unchecked = FetchPages(client, opts, HostGate(min_delay_s=0), None, workers=1)
            plain = unchecked.fetch(link(_pages(server, "coastlinebulletin", 1)[0]))
            unchecked.close()
        finally:
            fetcher.close()
    assert hh.rights_evidence == [
        "header:X-Robots-Tag: noai",
        "header:TDM-Policy: https://p.x/",
        "tdmrep:/harbourherald/* tdm-reservation=1",
    ]
    assert vc.rights_evidence == ["robots:CCBot disallow"]
    assert cb.rights_evidence == []  # both files read, nothing said: known to be free
    assert plain.rights_evidence == ["robots:unknown", "tdmrep:unknown"]


# -- the extractor's policy --------------------------------------------------------------
BODY = " ".join(
    f"Paragraph {i}: the ferry council of Port Ellery met again over the winter timetable."
    for i in range(8)
)
HTML = f"""<html><head><title>Ferry timetable row</title>{{head}}</head><body><article>
<h1>Ferry timetable row</h1><p>{BODY}</p></article></body></html>"""


LOCKED = '<meta property="article:content_tier" content="locked">'


def _raw(evidence: list[str] | None, head: str = "") -> RawPage:
    url = "https://gazette.example/news/ferry.html"
    return RawPage(
        article_id="f" * 32,
        url=url,
        final_url=url,
        status=200,
        html=HTML.replace("{head}", head),
        rights_evidence=evidence,
    )


@pytest.mark.parametrize("policy", ["store", "metadata", "skip"])
def test_policy_applies_to_opted_out_articles_only(policy):
    extractor = ExtractArticles(None, min_chars=100, rights_policy=policy)
    before = metric("wiredesk_rights_policy_total", action=policy)
    gated = metric("wiredesk_rights_articles_total", signal="paywalled", value="true")
    no_ai_before = metric("wiredesk_rights_articles_total", signal="ai_opt_out", value="true")
    free = list(extractor(_raw([])))
    reserved = list(extractor(_raw(["tdmrep:/news/* tdm-reservation=1"])))
    no_ai = list(extractor(_raw([], head='<meta name="robots" content="noai">')))
    paywalled = list(extractor(_raw([], head=LOCKED)))
    assert metric("wiredesk_rights_policy_total", action=policy) - before == 2
    assert metric("wiredesk_rights_articles_total", signal="paywalled", value="true") == gated + 1
    ai_now = metric("wiredesk_rights_articles_total", signal="ai_opt_out", value="true")
    assert ai_now == no_ai_before + 1  # counted whatever the policy does with it
    for out in (free, paywalled):  # not opted out: always stored whole
        [art] = out
        assert BODY[:50] in art.text and not art.text_withheld
    assert paywalled[0].paywalled is True and free[0].paywalled is None
    opted = ((reserved, "tdmrep:/news/* tdm-reservation=1"), (no_ai, "meta:robots noai"))
    for out, evidence in opted:
        if policy == "skip":
            assert out == []
            continue
        [art] = out
        assert evidence in art.rights_evidence
        assert art.tdm_reserved or art.ai_opt_out
        assert art.title == "Ferry timetable row"
        if policy == "store":
            assert BODY[:50] in art.text and not art.text_withheld
        else:
            assert art.text == "" and art.text_withheld


def test_a_page_fetched_without_checks_has_unknown_host_signals():
    [art] = ExtractArticles(None, min_chars=100)(_raw(None))
    assert (art.paywalled, art.tdm_reserved, art.ai_opt_out) == (None, None, None)
    assert art.rights_evidence == ["robots:unknown", "tdmrep:unknown"]


# -- the enricher ------------------------------------------------------------------------
def test_enrich_stores_withheld_articles_without_dedup_or_ner(sqlite_engine):
    when = datetime(2026, 11, 20, 8, tzinfo=UTC)
    enricher = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=True))
    text = "\n\n".join(["Ferry timetable row", BODY])
    full = article("full", "Ferry timetable row", text, when, site="one")
    withheld = [
        article(k, "Ferry timetable row", "", when, site=k).model_copy(
            update={"text_withheld": True, "ai_opt_out": True}
        )
        for k in ("two", "three")
    ]
    out = [r for a in withheld for r in enricher(a)]
    assert [type(r) for r in out] == [EnrichedArticle, EnrichedArticle]
    for r in out:  # neither is a copy of the other, though both texts are equally empty
        assert r.duplicate_of is None and r.entities == [] and r.text == ""
        assert r.text_withheld and r.ai_opt_out
    assert enricher._tagger is None  # the NER model was never needed
    plain = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=False))  # same state
    [stored] = list(plain(full))
    assert stored.duplicate_of is None and stored.text  # nor is a text a copy of a withheld one
    [again] = list(plain(withheld[0]))  # redelivered: the stored verdict, still no copy
    assert again.duplicate_of is None


# -- WARC backfill -----------------------------------------------------------------------
def test_backfilled_pages_keep_their_archived_header_evidence():
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    headers = [
        ("Content-Type", "text/html"),
        ("X-Robots-Tag", "noindex"),
        ("X-Robots-Tag", "noai"),  # a repeated header: both values count
        ("TDM-Reservation", "1"),
    ]
    http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
    body = io.BytesIO(HTML.replace("{head}", "").encode())
    url = "https://gazette.example/news/ferry.html"
    writer.write_record(writer.create_warc_record(url, "response", payload=body, http_headers=http))
    out.seek(0)
    [page] = list(read_pages(out, 1_000_000))
    assert page.rights_evidence == [
        "header:X-Robots-Tag: noai",
        "header:TDM-Reservation: 1",
        "robots:unknown",
        "tdmrep:unknown",
    ]
    [art] = ExtractArticles(None, min_chars=100, rights_policy="metadata")(page)
    assert (art.tdm_reserved, art.ai_opt_out, art.text_withheld) == (True, True, True)
