"""`wiredesk dlq resend` re-keys a news.links letter by host (letters written before links
were keyed by host carry a URL key); other letters keep the key they were stored with."""

from __future__ import annotations

from wiredesk.app.ops.dlq import _current_key
from wiredesk.records import Link


def test_a_link_letter_is_re_keyed_by_host_and_others_keep_their_key():
    link = Link(url="https://www.news.example.co.uk/a/1", article_id="a" * 32, feed_id="f")
    old_key = "https://www.news.example.co.uk/a/1"
    assert _current_key("ns.news.links", old_key, link.encode()) == "example.co.uk"
    assert _current_key("news.raw", "abc", b"{}") == "abc"
    assert _current_key("news.links", old_key, b"not json") == old_key
