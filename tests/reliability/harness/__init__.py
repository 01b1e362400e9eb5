"""Machinery of the reliability suite (tests/reliability and bench/reliability.py).

A private Kafka + PostgreSQL stack that faults may stop (never the shared one), a
supervisor for ``wiredesk <service>`` worker processes that restarts the dead and
measures peak memory, a socket guard that records every non-loopback connection, a
generated news corpus, and the reconciliation of what was served with what was stored.
"""
