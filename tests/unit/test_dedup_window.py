"""Dedup candidates and verdicts stay inside the dedup window (issue 17): band postings
carry the article's time, a lookup reads only those within the window, and two copies
further apart are two originals, whatever their order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests.transform_support import demo_articles
from transform import state_sql as sql
from transform.dedup import DedupIndex, fingerprint, within_window
from transform.state import key_of
from transform.storysim import epoch_seconds
from wiredesk import db
from wiredesk.db.dedup_tables import DedupBandRow, DedupEntryRow

WINDOW = timedelta(days=7)
T0 = datetime(2026, 5, 1, 6, 40, tzinfo=UTC)


def _body():
    (original, _, _), *_ = [i for i in demo_articles() if i[0].site_name == "harbourherald"]
    return original.title, original.text


def _bands_of(conn, article_id: str) -> tuple[int, list[DedupBandRow]]:
    seq = conn.scalar(select(DedupEntryRow.seq).where(DedupEntryRow.article_id == article_id))
    rows = conn.execute(select(DedupBandRow.__table__).where(DedupBandRow.entry_seq == seq))
    return seq, list(rows)


def _candidates(conn, keys: list[int], when: int) -> set[int]:
    span = WINDOW // timedelta(seconds=1)
    found = {"keys": keys, "lo": when - span, "hi": when + span}
    return {r.entry_seq for r in conn.execute(sql.BAND_CANDIDATES_IN_WINDOW, found)}


def test_within_window_is_symmetric_and_unknown_times_never_separate():
    day = 86_400
    assert within_window(0, 7 * day, WINDOW) and within_window(7 * day, 0, WINDOW)
    assert not within_window(0, 7 * day + 1, WINDOW)
    assert not within_window(7 * day + 1, 0, WINDOW)
    assert within_window(None, 10**12, WINDOW) and within_window(10**12, None, WINDOW)
    assert within_window(0, 10**12, None)  # no window (the default): time never separates


def test_bands_carry_time_and_tie_and_lookups_skip_postings_outside_the_window(sqlite_engine):
    title, text = _body()
    index = DedupIndex(sqlite_engine, window=WINDOW)
    later = T0 + timedelta(days=10)
    index.decide("first", fingerprint(title, text), T0)
    index.decide("later", fingerprint(title + " again", text), later)
    t0, t1 = epoch_seconds(T0), epoch_seconds(later)
    with sqlite_engine.begin() as conn:
        first_seq, first_bands = _bands_of(conn, "first")
        later_seq, later_bands = _bands_of(conn, "later")
        assert first_bands and {b.at for b in first_bands} == {t0}
        assert {b.tie for b in first_bands} == {key_of("tie", "first")}  # the id's alone
        assert later_bands and {b.at for b in later_bands} == {t1}
        shared = sorted({b.band_key for b in first_bands} & {b.band_key for b in later_bands})
        assert shared, "the same body shares its bands"
        # around the later article's time the first (ten days before) is not read ...
        assert first_seq not in _candidates(conn, shared, t1)
        # ... around its own time it is
        assert first_seq in _candidates(conn, shared, t0)
        # bands stored before the time column (NULL) count as an unknown time: always read
        conn.execute(
            update(DedupBandRow).where(DedupBandRow.entry_seq == first_seq).values(at=None)
        )
        assert first_seq in _candidates(conn, shared, t1)


def test_copies_further_apart_than_the_window_are_not_linked_in_any_order(tmp_path):
    """The same text at day 0, day 6 and day 20: 0 and 6 are one group, 20 is an
    original in every order (also when it arrived first and owns the exact-text claim);
    a copy between two originals 7 days apart links both (a chain)."""
    title, text = _body()
    articles = {
        "d00": T0,
        "d06": T0 + timedelta(days=6),
        "d20": T0 + timedelta(days=20),
    }
    fp = fingerprint(title, text)
    outcomes = set()
    for n, order in enumerate(itertools.permutations(articles)):
        url = f"sqlite:///{tmp_path / f'o{n}.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        index = DedupIndex(engine, window=WINDOW)
        for article_id in order:
            index.decide(article_id, fp, articles[article_id])
        with engine.connect() as conn:
            rows = conn.execute(select(DedupEntryRow.article_id, DedupEntryRow.duplicate_of))
            outcomes.add(tuple(sorted((r.article_id, r.duplicate_of) for r in rows)))
        engine.dispose()
    assert outcomes == {(("d00", None), ("d06", "d00"), ("d20", None))}

    url = f"sqlite:///{tmp_path / 'default.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    index = DedupIndex(engine)  # no window: the copy twenty days on is linked
    for article_id in ("d20", "d00", "d06"):
        index.decide(article_id, fp, articles[article_id])
    with engine.connect() as conn:
        rows = conn.execute(select(DedupEntryRow.article_id, DedupEntryRow.duplicate_of))
        linked = {r.article_id: r.duplicate_of for r in rows}
    engine.dispose()
    assert linked == {"d00": None, "d06": "d00", "d20": "d00"}

    url = f"sqlite:///{tmp_path / 'pair.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    index = DedupIndex(engine, window=WINDOW)
    first = index.decide("early", fp, T0)
    apart = index.decide("apart", fp, T0 + timedelta(days=10))  # same text hash, no link
    near = index.decide("near", fp, T0 + timedelta(days=3))
    with engine.connect() as conn:
        rows = conn.execute(select(DedupEntryRow.article_id, DedupEntryRow.duplicate_of))
        group = {r.article_id: r.duplicate_of for r in rows}
    engine.dispose()
    assert (first.kind, apart.kind) == ("original", "original")
    assert (near.duplicate_of, near.kind) == ("early", "exact")
    assert group == {"early": None, "apart": "early", "near": "early"}
