"""The README's services section, walked: its very lines, copied from README.md at test
time, start the local news site and the five services on the real Kafka and PostgreSQL,
and its check lines must then show every article as a row in ``psql`` and the sink's
metrics in the local Prometheus.

Three things are the test's own, so that it does not touch what a developer ran by hand:
after the README's ``eval "$(deploy/local/stack env)"`` it points ``WIREDESK_DATABASE_URL``
and ``WIREDESK_PSQL_URL`` at a fresh schema and sets a topic namespace; and it runs in a
scratch directory where ``.venv`` and ``deploy`` are links to this checkout's (the
README writes its log files and ``feeds.opml`` in the current directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
PORTS = [8800, 9401, 9402, 9403, 9404, 9405]


def readme_block(name: str) -> list[str]:
    """The shell lines of the README's ``<!-- readme-walk: NAME -->`` code block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        rf"<!-- readme-walk: {name} -->\s*```sh\n(.*?)```\s*<!-- readme-walk: end -->",
        readme,
        re.DOTALL,
    )
    assert found, f"README.md has no readme-walk block named {name!r}"
    return [line for line in found.group(1).splitlines() if line.strip()]


def libpq(url: str) -> str:
    """SQLAlchemy's URL without the driver suffix, as psql takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def demo_article_count() -> int:
    from devserver.corpus import load_corpus

    return len(load_corpus(None).articles)


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def run_check(lines: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float]:
    """Run the README's check lines; (articles in psql, sum of the sink's rows counter)."""
    psql, prom = lines
    out = subprocess.run(
        ["bash", "-c", f"set -e\n{psql}"], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    # psql's table: header, rule, then "  30 |  9 | 12"
    numbers = re.findall(r"^\s*(\d+)\s*\|", out.stdout, re.MULTILINE)
    articles = int(numbers[0]) if numbers else 0
    answer = subprocess.run(
        ["bash", "-c", f"set -e\n{prom}"], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)["data"]["result"]
    rows = float(result[0]["value"][1]) if result else 0.0
    return articles, rows


@pytest.mark.timeout(400)
def test_the_readme_services_section_gets_a_newcomer_to_rows(
    pg_url: str, unique: str, tmp_path: Path
) -> None:
    busy = [p for p in PORTS if not port_is_free(p)]
    assert not busy, f"ports the README uses are taken: {busy}"
    start, check = readme_block("start"), readme_block("check")
    eval_line = next(i for i, line in enumerate(start) if "deploy/local/stack env" in line)
    own = (
        f"export WIREDESK_DATABASE_URL='{pg_url}' WIREDESK_PSQL_URL='{libpq(pg_url)}' "
        f"WIREDESK_NAMESPACE=walk{unique}."
    )
    script = ["set -e", *start[: eval_line + 1], own, *start[eval_line + 1 :]]
    for link in (".venv", "deploy"):
        (tmp_path / link).symlink_to(ROOT / link)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREDESK_")}
    env |= {k: v for k, v in os.environ.items() if k.startswith("WIREDESK_STACK_")}
    env["WIREDESK_STACK_DIR"] = os.environ.get("WIREDESK_STACK_DIR", str(ROOT / ".stack"))
    # the check block runs in the state the start block left: the same environment
    script.append(f"env > {tmp_path / 'walk.env'}")
    transcript = tmp_path / "walk.out"
    with transcript.open("w") as out:  # a file, not a pipe: the background jobs keep it open
        walk = subprocess.Popen(
            ["bash", "-c", "\n".join(script)],
            cwd=tmp_path,
            env=env,
            start_new_session=True,  # the services are its background jobs: one group to stop
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert walk.wait(timeout=180) == 0, transcript.read_text()
        walked = dict(
            line.split("=", 1)
            for line in (tmp_path / "walk.env").read_text().splitlines()
            if "=" in line
        )
        expected = demo_article_count()
        deadline = time.monotonic() + 180
        articles, rows = 0, 0.0
        while time.monotonic() < deadline:
            articles, rows = run_check(check, walked, tmp_path)
            if articles >= expected and rows >= expected:
                break
            time.sleep(3)
        logs = {p.name: p.read_text(errors="replace")[-1500:] for p in tmp_path.glob("*.log")}
        assert articles == expected, (articles, logs)
        assert rows >= expected, f"Prometheus saw {rows} sink rows"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(walk.pid, signal.SIGTERM)
        for port in PORTS:  # the services finish their batch and leave
            until = time.monotonic() + 30
            while not port_is_free(port) and time.monotonic() < until:
                time.sleep(0.5)
    assert urllib.parse.urlsplit(walked["WIREDESK_PROMETHEUS_URL"]).hostname == "127.0.0.1"
