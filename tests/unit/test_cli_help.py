"""Every service's --help says what it consumes and produces and names real settings."""

from __future__ import annotations

import re

import pytest

from wiredesk.app.cli import build_parser
from wiredesk.app.services import LONG_RUNNING, SERVICE_HELP
from wiredesk.settings import Settings

TOPICS = {
    "poll": ("news.links",),
    "fetch": ("news.links", "news.raw"),
    "extract": ("news.raw", "news.articles"),
    "enrich": ("news.articles", "news.enriched"),
    "sink": ("news.enriched", "database"),
}


@pytest.mark.parametrize("command", sorted(LONG_RUNNING))
def test_service_help_explains_input_output_and_settings(command, capsys):
    assert set(SERVICE_HELP) == LONG_RUNNING - {"run"}  # run has its own, longer text
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for topic in TOPICS.get(command, ()):
        assert topic in text
    named = re.findall(r"WIREDESK_([A-Z0-9_]+)", text)
    assert len(named) >= 6
    fields = {name.upper() for name in Settings.model_fields}
    assert set(named) <= fields, set(named) - fields
