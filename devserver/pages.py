"""HTML, feed and index rendering for :mod:`devserver.server`.

Pages imitate a real news site (cookie banner, nav, share tools, related stories,
footer, JSON-LD) so text extraction is exercised on realistic boilerplate.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape as xesc
from xml.sax.saxutils import quoteattr

if TYPE_CHECKING:
    from devserver.corpus import CorpusArticle, Site

FEED_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
    "rdf": "application/rdf+xml",
    "rss091": "application/rss+xml",
}
SECTIONS = ("News", "Politics", "Business", "Sport", "Weather", "Opinion", "Culture", "Podcasts")

# Invented social posts embedded in some pages; other corpora get a generic one.
_EMBEDS = {
    "port-strike": "Picket line at the Eastern Terminal gate keeps growing. No trucks in or out "
    "since 5am. #VelmarStrike",
    "chemical-plant-fire": "Smoke still visible from the ring road this morning. Keep windows "
    "closed if you live east of the plant.",
    "storm-edda": "Gusts rattling the whole seafront here. Stay away from the promenade tonight, "
    "please. #StormEdda",
    "regional-election": "Final count is in. Turnout up almost nine points on last time.",
    "rate-decision": "Quarter-point rise confirmed. Two committee members voted to hold.",
    "football-transfer": "Medical done, shirt picked. Announcement expected this evening.",
    "rail-tunnel-opening": "First train through the tunnel, two minutes early. Not bad for "
    "day one.",
    "data-centre": "Public gallery full for tonight's planning meeting on the brickworks site.",
}


def rfc3339(dt: datetime) -> str:
    """``2026-11-18T06:40:00Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(ts: float) -> str:
    """RFC 9110 IMF-fixdate for a POSIX timestamp."""
    return format_datetime(datetime.fromtimestamp(int(ts), UTC), usegmt=True)


def summary(article: CorpusArticle, limit: int = 240) -> str:
    """First paragraph, cut at a word boundary."""
    text = article.paragraphs[0] if article.paragraphs else article.title
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "\u2026"


def _tag_uri(article: CorpusArticle) -> str:
    return f"tag:{article.site}.example,2026:{article.id}"


def render_feed(
    site: Site, articles: Sequence[CorpusArticle], base: str, updated: float, ttl: int | None = None
) -> bytes:
    """RSS 2.0, Atom 1.0, JSON Feed 1.1, RSS 1.0 or RSS 0.91 (per ``site.feed_format``),
    items newest first; ``ttl`` (minutes) adds RSS ``<ttl>``."""
    home, self_url = f"{base}/{site.site}/", f"{base}/{site.site}/feed.xml"
    if site.feed_format == "json":
        return _json_feed(site, articles, base, home, self_url)
    if site.feed_format in ("rdf", "rss091"):
        return _old_rss(site, articles, base, home)
    out: list[str] = ['<?xml version="1.0" encoding="utf-8"?>']
    if site.feed_format == "atom":
        out += [
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{site.language}">',
            f"<title>{xesc(site.name)}</title>",
            f"<subtitle>Latest stories from {xesc(site.name)}</subtitle>",
            f"<id>tag:{site.site}.example,2026:feed</id>",
            f'<link rel="self" type="application/atom+xml" href={quoteattr(self_url)}/>',
            f'<link rel="alternate" type="text/html" href={quoteattr(home)}/>',
            f"<updated>{rfc3339(datetime.fromtimestamp(updated, UTC))}</updated>",
        ]
        for a in articles:
            out += [
                "<entry>",
                f"<title>{xesc(a.title)}</title>",
                f'<link rel="alternate" type="text/html" href={quoteattr(base + a.path)}/>',
                f"<id>{_tag_uri(a)}</id>",
                f"<published>{rfc3339(a.published_at)}</published>",
                f"<updated>{rfc3339(a.modified_at)}</updated>",
                f"<author><name>{xesc(a.author)}</name></author>",
                *(f"<category term={quoteattr(t)}/>" for t in a.tags),
                f'<summary type="text">{xesc(summary(a))}</summary>',
                "</entry>",
            ]
        out.append("</feed>")
    else:
        out += [
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom">',
            "<channel>",
            f"<title>{xesc(site.name)}</title>",
            f"<link>{xesc(home)}</link>",
            f"<description>Latest stories from {xesc(site.name)}</description>",
            f"<language>{site.language}</language>",
            f"<lastBuildDate>{http_date(updated)}</lastBuildDate>",
            f'<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>',
            *([f"<ttl>{ttl}</ttl>"] if ttl else []),
        ]
        for a in articles:
            out += [
                "<item>",
                f"<title>{xesc(a.title)}</title>",
                f"<link>{xesc(base + a.path)}</link>",
                f'<guid isPermaLink="false">{_tag_uri(a)}</guid>',
                f"<pubDate>{format_datetime(a.published_at, usegmt=True)}</pubDate>",
                f"<dc:creator>{xesc(a.author)}</dc:creator>",
                *(f"<category>{xesc(t)}</category>" for t in a.tags),
                f"<description>{xesc(summary(a))}</description>",
                "</item>",
            ]
        out += ["</channel>", "</rss>"]
    return ("\n".join(out) + "\n").encode()


def _json_feed(
    site: Site, articles: Sequence[CorpusArticle], base: str, home: str, self_url: str
) -> bytes:
    items = [
        {
            "id": _tag_uri(a),
            "url": base + a.path,
            "title": a.title,
            "summary": summary(a),
            "date_published": rfc3339(a.published_at),
            "authors": [{"name": a.author}],
            "tags": list(a.tags),
        }
        for a in articles
    ]
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": site.name,
        "home_page_url": home,
        "feed_url": self_url,
        "language": site.language,
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1).encode()


def _old_rss(site: Site, articles: Sequence[CorpusArticle], base: str, home: str) -> bytes:
    """RSS 1.0 (RDF, dates in dc:date) or RSS 0.91 (Netscape DTD, no dates)."""
    items = [
        (
            f"<title>{xesc(a.title)}</title><link>{xesc(base + a.path)}</link>"
            f"<description>{xesc(summary(a))}</description>",
            a,
        )
        for a in articles
    ]
    if site.feed_format == "rss091":
        body = "".join(f"<item>{inner}</item>\n" for inner, _ in items)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
            f'<rss version="0.91"><channel><title>{xesc(site.name)}</title>'
            f"<link>{xesc(home)}</link><description>{xesc(site.name)}</description>"
            f"<language>{site.language}</language>\n{body}</channel></rss>\n"
        ).encode()
    seq = "".join(f"<rdf:li rdf:resource={quoteattr(base + a.path)}/>" for _, a in items)
    body = "".join(
        f"<item rdf:about={quoteattr(base + a.path)}>{inner}"
        f"<dc:date>{rfc3339(a.published_at)}</dc:date></item>\n"
        for inner, a in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f"<channel rdf:about={quoteattr(home)}><title>{xesc(site.name)}</title>"
        f"<link>{xesc(home)}</link><description>{xesc(site.name)}</description>"
        f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n{body}</rdf:RDF>\n"
    ).encode()


def _page(title: str, body: str, head: str = "", lang: str = "en") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}</head>\n{body}\n</html>\n"
    ).encode()


def _chrome(site: Site, base: str) -> tuple[str, str]:
    """(top of body, bottom of body): cookie banner, header/nav, footer."""
    s, name = site.site, escape(site.name)
    nav = "".join(f'<li><a href="/{s}/section/{sec.lower()}/">{sec}</a></li>' for sec in SECTIONS)
    top = f"""<body class="article-page">
<div id="cookie-consent" class="cookie-banner" role="dialog" aria-label="Cookie consent">
<p>We use cookies and similar technologies to personalise content, measure audiences and show
relevant advertising. You can change your choices at any time under Privacy settings.</p>
<button type="button" class="cookie-accept">Accept all</button>
<button type="button" class="cookie-manage">Manage preferences</button>
</div>
<header class="site-header">
<a class="logo" href="/{s}/">{name}</a>
<nav class="main-nav" aria-label="Sections"><ul><li><a href="/{s}/">Home</a></li>{nav}</ul></nav>
<form class="site-search" action="/{s}/search" role="search">
<input type="search" name="q" placeholder="Search {name}"><button>Search</button></form>
<a class="subscribe-cta" href="/{s}/subscribe">Subscribe from 1 crown a week</a>
</header>
"""
    bottom = f"""<footer class="site-footer">
<nav aria-label="Footer"><ul>
<li><a href="/{s}/about">About us</a></li><li><a href="/{s}/contact">Contact the newsroom</a></li>
<li><a href="/{s}/privacy">Privacy policy</a></li>
<li><a href="/{s}/cookies">Cookie settings</a></li>
<li><a href="/{s}/terms">Terms of use</a></li><li><a href="/{s}/feed.xml">RSS</a></li>
</ul></nav>
<p class="copyright">&copy; 2026 {name}. All rights reserved. No part of this site may be
reproduced without written permission.</p>
</footer>
<script src="/static/site.js" defer></script>
</body>"""
    return top, bottom


def render_article(
    site: Site, a: CorpusArticle, base: str, related: Sequence[CorpusArticle]
) -> bytes:
    """A full article page; the paragraphs sit inside ``<article>``."""
    url, name = base + a.path, site.name
    published = rfc3339(a.published_at)
    section = a.tags[0].capitalize() if a.tags else "News"
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": a.title,
        "description": summary(a),
        "datePublished": published,
        "dateModified": rfc3339(a.modified_at),
        "author": [{"@type": "Person", "name": a.author}],
        "publisher": {"@type": "Organization", "name": name},
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "articleSection": section,
        "keywords": list(a.tags),
        "inLanguage": site.language,
    }
    ld_json = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
    head = "".join(
        [
            f'<meta name="description" content="{escape(summary(a))}">\n',
            f'<meta name="author" content="{escape(a.author)}">\n',
            f'<link rel="canonical" href="{escape(url)}">\n',
            '<meta property="og:type" content="article">\n',
            f'<meta property="og:title" content="{escape(a.title)}">\n',
            f'<meta property="og:site_name" content="{escape(name)}">\n',
            f'<meta property="og:url" content="{escape(url)}">\n',
            f'<meta property="og:description" content="{escape(summary(a))}">\n',
            f'<meta property="article:published_time" content="{published}">\n',
            f'<meta property="article:modified_time" content="{rfc3339(a.modified_at)}">\n',
            f'<meta property="article:section" content="{escape(section)}">\n',
            *(f'<meta property="article:tag" content="{escape(t)}">\n' for t in a.tags),
            f'<link rel="alternate" type="{FEED_TYPES[site.feed_format]}" '
            f'href="/{site.site}/feed.xml" title="{escape(name)}">\n',
            f'<script type="application/ld+json">{ld_json}</script>\n',
            '<link rel="stylesheet" href="/static/site.css">\n',
        ]
    )
    paras = [f"<p>{escape(p)}</p>" for p in a.paragraphs]
    if zlib.crc32(a.id.encode()) % 3 == 0 and len(paras) >= 4:
        text = _EMBEDS.get(a.story, f"Following the {a.story.replace('-', ' ')} story all day.")
        handle, status = f"{site.site}_desk", zlib.crc32(a.id.encode())
        embed = (
            '<blockquote class="social-embed" data-platform="chirp">'
            f'<p lang="en">{escape(text)}</p>&mdash; {escape(name)} newsdesk (@{handle}) '
            f'<a href="https://chirp.example/{handle}/status/{status}">'
            f"{a.published_at:%B %d, %Y}</a></blockquote>"
        )
        paras.insert(2, embed)
    if len(paras) > 4:
        paras.insert(4, '<div class="ad-slot" aria-hidden="true"><span>Advertisement</span></div>')
    rel = "".join(
        f'<li><a href="{escape(base + r.path)}">{escape(r.title)}</a></li>' for r in related
    )
    top, bottom = _chrome(site, base)
    body = f"""{top}<main id="content">
<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="/{site.site}/">Home</a> &rsaquo;
<a href="/{site.site}/section/{escape(section.lower())}/">{escape(section)}</a></nav>
<article class="story">
<header class="story-header">
<h1 class="headline">{escape(a.title)}</h1>
<p class="byline">By <span class="author">{escape(a.author)}</span></p>
<time class="published" datetime="{published}">{a.published_at:%A %d %B %Y, %H:%M} UTC</time>
<div class="share-tools" aria-label="Share this story">
<a class="share share-facebook" href="https://facebook.example/share?u={escape(url)}">Share on
Facebook</a> <a class="share share-x" href="https://x.example/intent?url={escape(url)}">Share on
X</a> <a class="share share-email" href="mailto:?subject={escape(a.title)}">Email this story</a>
<button class="share share-copy" type="button">Copy link</button>
</div>
</header>
<div class="story-body">
{chr(10).join(paras)}
</div>
</article>
<aside class="related-stories" aria-label="Related stories">
<h2>Related stories</h2>
<ul>{rel}</ul>
</aside>
<aside class="newsletter-signup">
<h2>The morning briefing</h2>
<p>Get the day's top stories from {escape(name)} in your inbox every weekday at 7am.</p>
<form action="/{site.site}/newsletter"><input type="email" name="email">
<button>Sign me up</button></form>
</aside>
</main>
{bottom}"""
    return _page(f"{a.title} | {name}", body, head, site.language)


def render_site_home(site: Site, articles: Iterable[CorpusArticle], base: str) -> bytes:
    """An outlet's front page: the visible articles, newest first."""
    items = "".join(
        f'<li><a href="{escape(base + a.path)}">{escape(a.title)}</a> '
        f'<time datetime="{rfc3339(a.published_at)}">{a.published_at:%d %b %H:%M}</time></li>'
        for a in articles
    )
    top, bottom = _chrome(site, base)
    body = f'{top}<main id="content"><h1>Latest news</h1><ul class="latest">{items}</ul></main>'
    return _page(site.name, body + bottom, lang=site.language)


def render_index(sites: Sequence[Site], base: str) -> bytes:
    """The server's ``/`` page: every outlet and its feed."""
    items = "".join(
        f'<li><a href="/{s.site}/">{escape(s.name)}</a> &mdash; '
        f'<a href="{base}/{s.site}/feed.xml">{s.feed_format.upper()} feed</a></li>'
        for s in sites
    )
    body = (
        "<body><h1>wiredesk dev news server</h1>"
        f'<p>All outlets, feeds and articles are invented. <a href="/feeds.opml">OPML</a> '
        f'&middot; <a href="/robots.txt">robots.txt</a></p><ul>{items}</ul></body>'
    )
    return _page("wiredesk dev news server", body)


def render_opml(sites: Sequence[Site], base: str, created: float) -> bytes:
    """OPML 2.0 subscription list of all feeds."""
    outlines = "\n".join(
        f'<outline type="rss" text={quoteattr(s.name)} title={quoteattr(s.name)} '
        f'xmlUrl="{base}/{s.site}/feed.xml" htmlUrl="{base}/{s.site}/"/>'
        for s in sites
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0">\n<head>'
        f"<title>wiredesk dev news server</title><dateCreated>{http_date(created)}"
        f"</dateCreated></head>\n<body>\n{outlines}\n</body>\n</opml>\n"
    ).encode()


def render_sitemap(articles: Iterable[CorpusArticle], base: str) -> bytes:
    """sitemaps.org urlset of the visible articles."""
    urls = "".join(
        f"<url><loc>{xesc(base + a.path)}</loc><lastmod>{rfc3339(a.published_at)}</lastmod></url>\n"
        for a in articles
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
    ).encode()


def render_robots(base: str, rules: str | None = None) -> bytes:
    """Allow everything (or the given rules); point at the sitemap."""
    rules = rules if rules is not None else "User-agent: *\nAllow: /\n"
    return f"{rules}\nSitemap: {base}/sitemap.xml\n".encode()


def render_error(status: int, message: str) -> bytes:
    """A small HTML error page."""
    return _page(f"{status} {message}", f"<body><h1>{status} {escape(message)}</h1></body>")
