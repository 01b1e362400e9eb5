"""The local news site for demos, tests and benchmarks: invented outlets, feeds and pages
served on 127.0.0.1, with switchable faults. Not part of the pipeline; nothing in ingest/,
transform/ or sink/ imports it."""
