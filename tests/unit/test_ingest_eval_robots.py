"""`wiredesk eval extraction` scoring, robots.txt caching (F13), and one id per page
however its URL is spelled (K14)."""

from __future__ import annotations

import gzip
import json

import pytest

from devserver.pages import render_article
from devserver.server import Faults, NewsServer, load_corpus
from ingest.evaluate import summarise, tp_fp_fn
from ingest.http import make_client
from ingest.robots import RobotsCache
from ingest.urls import canonical_url
from tests.conftest import SHARED_DATA
from tests.ingest_support import options
from wiredesk.app.cli import main
from wiredesk.stage import BadInput


def test_token_scores_match_the_benchmark_definition():
    assert tp_fp_fn("The cat sat.", "the CAT sat!") == (1.0, 0.0, 0.0)
    tp, fp, fn = tp_fp_fn("a b c d", "a b x")  # 2 shared, 1 extra, 2 missing
    assert (tp, fp, fn) == (2 / 5, 1 / 5, 2 / 5)
    assert tp_fp_fn("a b", "") == (0.0, 0.0, 1.0)
    scores = summarise([tp_fp_fn("a b c d", "a b x"), tp_fp_fn("a b", "a b")])
    assert scores["precision"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["recall"] == pytest.approx((1 / 2 + 1) / 2)
    p, r = scores["precision"], scores["recall"]
    assert scores["f1"] == pytest.approx(2 * p * r / (p + r))


def test_eval_extraction_command_on_invented_pages(tmp_path, capsys):
    corpus = load_corpus()
    site = corpus.sites[0]
    path = tmp_path / "pages.jsonl.gz"
    arts = [a for a in corpus.articles if a.site == site.site][:3]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for a in arts:
            html = render_article(site, a, "http://h.example", []).decode()
            record = {
                "id": a.id,
                "url": "http://h.example" + a.path,
                "html": html,
                "gold_text": "\n".join(a.paragraphs),
            }
            fh.write(json.dumps(record) + "\n")
    assert main(["eval", "extraction", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pages"] == 3 and result["empty"] == 0
    assert result["recall"] > 0.95 and result["precision"] > 0.8
    assert main(["eval", "extraction", str(path)]) == 0
    assert "precision" in capsys.readouterr().out
    assert main(["eval", "extraction", str(tmp_path / "missing.jsonl")]) == 2


def test_eval_extraction_on_the_shared_benchmark_pages(capsys):
    data = SHARED_DATA / "pages_aeb_dev.jsonl.gz"
    if not data.exists():
        pytest.skip(f"{data} is not present (shared dev data)")
    assert main(["eval", "extraction", str(data), "--json", "--limit", "15"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pages"] == 15 and result["f1"] > 0.85


def test_robots_verdicts_are_cached_for_at_most_a_day():
    class Clock:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    faults = Faults(robots_txt="User-agent: *\nDisallow: /private/\n")
    with NewsServer(load_corpus(), faults=faults) as server:
        opts = options([server.port])
        cache = RobotsCache(make_client(opts), opts, ttl_s=10**9, clock=clock)
        assert cache.ttl_s == 86_400  # capped at 24 h whatever is asked
        cache.check(f"{server.base_url}/news/1.html")
        with pytest.raises(BadInput, match="robots_disallowed"):
            cache.check(f"{server.base_url}/private/1.html")
        clock.now += 86_399
        cache.check(f"{server.base_url}/news/2.html")
        assert [p for _, p, _ in server.requests_log].count("/robots.txt") == 1
        server.faults.robots_txt = "User-agent: *\nDisallow: /news/\n"
        clock.now += 2
        with pytest.raises(BadInput, match="robots_disallowed"):
            cache.check(f"{server.base_url}/news/3.html")
        assert [p for _, p, _ in server.requests_log].count("/robots.txt") == 2


@pytest.mark.parametrize(
    "spelling",
    [
        "https://News.Example:443/2026/story.html?utm_source=rss&utm_medium=feed",
        "HTTPS://news.example/2026/story.html#top",
        "https://news.example./2026/story.html?fbclid=abc",
        "https://news.example/2026/story.html?gclid=1&utm_campaign=x",
    ],
)
def test_every_spelling_of_a_page_has_one_canonical_url(spelling):
    assert canonical_url(spelling) == "https://news.example/2026/story.html"
