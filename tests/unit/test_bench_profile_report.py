"""bench/profile_report.py: py-spy stacks charged to the innermost matching step, summed
per service, turned into CPU ms per article."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "bench" / "profile_report.py"
spec = importlib.util.spec_from_file_location("profile_report", PATH)
assert spec is not None and spec.loader is not None
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)

RUNNER = "run (wiredesk/runner.py:200)"
SINK = "write (sink/articles.py:80)"
SQL = "execute (/venv/site-packages/sqlalchemy/engine/base.py:1400)"
JSON_IN_SQL = "dumps (/usr/lib/python3.11/json/__init__.py:231)"


def test_the_innermost_matching_frame_decides():
    assert report.step_of(";".join([RUNNER, SINK, SQL])) == "SQL (SQLAlchemy, psycopg)"
    assert report.step_of(";".join([RUNNER, SINK, SQL, JSON_IN_SQL])) == "JSON / records"
    assert report.step_of(";".join([RUNNER, SINK])) == "sink rows"
    assert report.step_of(RUNNER) == "runner and stage code"
    assert report.step_of("<module> (<string>:1)") == "other (interpreter, stdlib)"
    importing = "_find_and_load (<frozen importlib._bootstrap>:1176)"
    assert report.step_of(";".join([RUNNER, importing, SQL])) == "start-up (imports)"


def test_files_become_ms_per_article_per_service_and_step(tmp_path, capsys):
    (tmp_path / "sink-0-1.txt").write_text(f"{RUNNER};{SINK};{SQL} 300\n{RUNNER};{SINK} 100\n")
    (tmp_path / "sink-0-2.txt").write_text(f"{RUNNER};{SINK};{SQL} 100\n")  # a restart
    (tmp_path / "enrich-0-1.txt").write_text(f"{RUNNER} 50\n")
    ms = report.table(report.read(tmp_path), articles=100)
    # 400 samples at 100 Hz = 4 s of CPU over 100 articles = 40 ms each
    assert ms["sink"] == {"SQL (SQLAlchemy, psycopg)": 40.0, "sink rows": 10.0}
    assert ms["enrich"] == {"runner and stage code": 5.0}
    text = report.render(ms)
    assert "| SQL (SQLAlchemy, psycopg) | 0.00 | 40.00 | 40.00 |" in text
    assert "**55.00**" in text
    assert report.main([str(tmp_path), "--articles", "100"]) == 0
    assert "| step | enrich | sink | all |" in capsys.readouterr().out
    # measured CPU: sink used 2 s (not the 5 s sampled): split 4:1 -> 16 + 4 ms
    scaled = report.table(report.read(tmp_path), 100, {"sink": 2.0})
    assert scaled["sink"] == {"SQL (SQLAlchemy, psycopg)": 16.0, "sink rows": 4.0}
    assert scaled["enrich"] == ms["enrich"]  # no measurement: samples as they are


def test_no_files_is_an_error(tmp_path):
    assert report.main([str(tmp_path), "--articles", "10"]) == 2
