"""Sink stages: write enriched articles to the database."""
