"""`wiredesk archive prune`: whole WARC files go once all their pages are older than the
retention, with their index rows; newer and mixed files stay; a crash half-way and a
second run are harmless; bad settings are one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.archive import ArchiveOptions, WarcArchive
from ingest.archive_index import SqlArchiveIndex
from ingest.archive_prune import expired_files, prune
from tests.unit.test_archive import page
from wiredesk.app.cli import main
from wiredesk.db.archive_tables import ArchivePageRow

NOW = datetime.now(UTC)


def fill(tmp_path, engine, ages_days: list[list[float]]) -> list[str]:
    """One WARC file per inner list, its pages fetched that many days ago; their names."""
    index = SqlArchiveIndex(engine)
    files = []
    n = 0
    for ages in ages_days:
        arch = WarcArchive(ArchiveOptions(str(tmp_path / "warc")), index)
        for age in ages:
            entry = arch.write(page(n, fetched_at=NOW - timedelta(days=age)))
            assert entry is not None
            n += 1
        arch.close()
        files.append(entry.file)
    return files


def indexed(engine) -> dict[str, int]:
    with engine.connect() as conn:
        t = ArchivePageRow
        return dict(conn.execute(select(t.file, func.count()).group_by(t.file)).all())


def test_only_files_whose_pages_are_all_older_go_with_their_rows(tmp_path, sqlite_engine):
    old, mixed, new = fill(tmp_path, sqlite_engine, [[40, 35], [40, 2], [1, 0.5]])
    cutoff = NOW - timedelta(days=30)
    assert expired_files(sqlite_engine, cutoff) == [(old, 2)]

    listed: list[str] = []
    dry = prune(sqlite_engine, cutoff, dry_run=True, say=listed.append)
    assert (dry.files, dry.pages) == (1, 2) and listed == [f"{old}: 2 pages"]
    assert set(indexed(sqlite_engine)) == {old, mixed, new}

    done = prune(sqlite_engine, cutoff)
    assert (done.files, done.pages, done.missing, done.failed) == (1, 2, 0, 0)
    assert indexed(sqlite_engine) == {mixed: 2, new: 2}
    assert not Path(old).exists()
    assert Path(mixed).exists() and Path(new).exists()
    again = prune(sqlite_engine, cutoff)
    assert (again.files, again.pages) == (0, 0)


def test_rows_of_a_file_already_gone_are_removed(tmp_path, sqlite_engine):
    (old,) = fill(tmp_path, sqlite_engine, [[50]])
    Path(old).unlink()  # as a crash between the file's delete and its rows' leaves it
    done = prune(sqlite_engine, NOW - timedelta(days=30))
    assert (done.files, done.missing) == (1, 1)
    assert indexed(sqlite_engine) == {}


def test_the_cli_prunes_by_setting_and_refuses_no_or_too_short_retention(
    tmp_path, sqlite_url, sqlite_engine, monkeypatch, capsys
):
    old, new = fill(tmp_path, sqlite_engine, [[20], [3]])
    monkeypatch.setenv("WIREDESK_DATABASE_URL", sqlite_url)
    assert main(["archive", "prune"]) == 2
    assert "no retention" in capsys.readouterr().err
    assert main(["archive", "prune", "--older-than", "0.5"]) == 2
    assert "from 1 to 36500 days" in capsys.readouterr().err
    monkeypatch.setenv("WIREDESK_ARCHIVE_RETENTION_DAYS", "10")
    assert main(["archive", "prune", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["files"], out["pages"], out["dry_run"]) == (1, 1, False)
    assert indexed(sqlite_engine) == {new: 1}


@pytest.mark.parametrize("days", ["-3", "nan", "inf", "1e300"])
def test_a_number_out_of_range_is_a_one_line_error(days, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("WIREDESK_DATABASE_URL", sqlite_url)
    assert main(["archive", "prune", f"--older-than={days}"]) == 2
    assert "--older-than must be from 1 to 36500 days" in capsys.readouterr().err


def test_not_a_number_is_a_usage_error(sqlite_url, monkeypatch):
    monkeypatch.setenv("WIREDESK_DATABASE_URL", sqlite_url)
    with pytest.raises(SystemExit) as exit_:
        main(["archive", "prune", "--older-than", "abc"])
    assert exit_.value.code == 2
