"""``wiredesk devserver`` takes the server's own options (they used to be refused)."""

from __future__ import annotations

import pytest

from wiredesk.app.cli import build_parser


def test_devserver_options_are_parsed() -> None:
    args = build_parser().parse_args(
        ["devserver", "--port", "18999", "--mirror-feeds", "2", "--hold-back", "3"]
    )
    assert (args.command, args.port, args.mirror_feeds, args.hold_back) == (
        "devserver",
        18999,
        2,
        3,
    )


def test_devserver_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["devserver", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--port", "--corpus", "--mirror-feeds", "--release-every"):
        assert option in out
