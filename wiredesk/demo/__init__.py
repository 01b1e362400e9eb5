"""Demo data bundled with wiredesk (an invented news corpus in ``corpus/``)."""
