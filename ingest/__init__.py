"""Ingest stages: everything that touches the outside web (feeds, pages, extraction)."""
