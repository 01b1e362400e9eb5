"""``wiredesk devserver``: run the dev news server in the foreground."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from devserver.corpus import load_corpus
from devserver.server import NewsServer


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The server's options, shared by ``python -m devserver.cli`` and ``wiredesk devserver``."""
    ap.add_argument("--corpus", type=Path, help="corpus directory (default: bundled demo)")
    ap.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8800, help="listen port (default 8800)")
    ap.add_argument("--release-every", type=float, metavar="SECONDS", help="release cadence")
    ap.add_argument("--hold-back", type=int, metavar="N", help="default: half if --release-every")
    ap.add_argument(
        "--mirror-feeds",
        type=int,
        default=0,
        metavar="N",
        help="N extra feeds /mirror/<i>/feed.xml",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the dev news server in the foreground."""
    ap = argparse.ArgumentParser(prog="wiredesk devserver", description="Serve a corpus locally.")
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; prints the feed URLs and each released article."""
    corpus = load_corpus(args.corpus)
    hold = args.hold_back
    if hold is None:
        hold = len(corpus.articles) // 2 if args.release_every else 0
    srv = NewsServer(
        corpus,
        args.host,
        args.port,
        hold_back=hold,
        release_every_s=args.release_every,
        mirror_feeds=args.mirror_feeds,
    )
    with srv:
        print(
            f"wiredesk dev news server on {srv.base_url} ({len(corpus.articles)} articles, "
            f"{hold} held back)\nOPML: {srv.opml_url}",
            flush=True,
        )
        for url in srv.feed_urls():
            print(f"  {url}", flush=True)
        try:
            while True:
                for a in srv.tick():
                    print(f"released {a.id}: {srv.base_url}{a.path}", flush=True)
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
