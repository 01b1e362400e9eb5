"""What kafka-python's record checksums cost per message: pure Python vs the C library.

    .venv/bin/python bench/kafka_crc.py [--pages 91] [--rounds 3]

Every record batch a producer builds carries a CRC-32C of its bytes, and the consumer
checks it again before handing the records on (``check_crcs``, on by default).
kafka-python computes it in pure Python unless the ``crc32c`` package is installed, so a
fetched page costs two checksums of its whole HTML in Python: one in the fetcher that
publishes it to news.raw, one in the extractor that reads it (and again for each later
topic its text travels on). This builds and checks one batch per message, as a paced
producer with ``linger_ms`` sends them, over real payloads: the news pages of
``../shared/data/pages_aeb_dev.jsonl.gz`` (HTML as fetched) and the BBC texts (an
article's text, what news.articles and news.enriched carry), with the pure-Python
checksum (the baseline) and the C one kafka-python picks up when ``crc32c`` is installed,
in the same run. Prints ms per message (median of
the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

from benchlib import SHARED_DATA, bbc_texts, commit, machine
from kafka.record import default_records
from kafka.record._crc32c import crc as crc_python
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.util import crc32c_c  # None unless the crc32c package is installed


def payloads(pages: int) -> dict[str, list[bytes]]:
    html = []
    with gzip.open(SHARED_DATA / "pages_aeb_dev.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            html.append(json.loads(line)["html"].encode("utf-8"))
            if len(html) == pages:
                break
    texts = [text.encode("utf-8") for text in bbc_texts(500)]
    return {"news page HTML (news.raw)": html, "article text (news.articles)": texts}


def produce_and_consume(value: bytes) -> None:
    """Build a one-record batch as the producer does and check it as the consumer does."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=1,
        producer_epoch=0,
        base_sequence=0,
        batch_size=len(value) + 1024,
    )
    builder.append(0, timestamp=1_700_000_000_000, key=b"k", value=value, headers=[])
    batch = DefaultRecordBatch(bytes(builder.build()))
    if not batch.validate_crc():
        raise SystemExit("checksum mismatch: the implementations disagree")


def ms_per_message(values: list[bytes], crc: Callable[[memoryview], int], rounds: int) -> float:
    checksum = partial(default_records.calc_crc32c, _crc32c=crc)
    original = default_records.calc_crc32c
    default_records.calc_crc32c = checksum  # what builder and batch call
    try:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            for value in values:
                produce_and_consume(value)
            times.append((time.perf_counter() - started) * 1000 / len(values))
        return statistics.median(times)
    finally:
        default_records.calc_crc32c = original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=91, help="news pages to use (91: all)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is shown")
    args = parser.parse_args()
    if not SHARED_DATA.exists():
        raise SystemExit(f"needs {SHARED_DATA} (the shared data beside the project)")
    native = crc32c_c
    if native is None:
        raise SystemExit("the crc32c package is not installed: pip install crc32c")
    print(f"{'payload':32} {'messages':>8} {'KB avg':>7} {'python ms':>10} {'C ms':>8} {'x':>6}")
    for name, values in payloads(args.pages).items():
        kb = sum(map(len, values)) / len(values) / 1024
        slow = ms_per_message(values, crc_python, args.rounds)
        fast = ms_per_message(values, native, args.rounds)
        print(f"{name:32} {len(values):8d} {kb:7.1f} {slow:10.3f} {fast:8.3f} {slow / fast:6.1f}")
    print("ms per message: one batch built (producer) and checked (consumer)")
    print(f"machine: {machine()}; commit {commit()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
