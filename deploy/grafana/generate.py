"""Writes the provisioned Grafana dashboards (deploy/grafana/dashboards/*.json).

The panels are listed in ``panels.py`` and ``panels_ingest.py``; run
`python deploy/grafana/generate.py` after editing. tests/unit/test_ops_deploy.py fails
when the JSON files are out of date, and tests/integration/test_ops_observability.py runs
every query against a real Prometheus scraping a running pipeline.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "wiredesk-prometheus"}


def _load_panels(name: str) -> Any:
    """``<name>.py`` beside this file (also when loaded by path, as the tests do)."""
    spec = importlib.util.spec_from_file_location(f"wiredesk_grafana_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DASHBOARDS = {
    **_load_panels("panels").DASHBOARDS,
    **_load_panels("panels_ingest").DASHBOARDS,
}


def panel(index: int, title: str, unit: str, kind: str, targets: list[tuple[str, str]]) -> dict:
    width = 12 if kind != "stat" else 8
    per_row = 24 // width
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {
            "h": 8,
            "w": width,
            "x": (index % per_row) * width,
            "y": (index // per_row) * 8,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                **({"instant": True, "format": "table"} if kind == "table" else {}),
            }
            for i, (legend, expr) in enumerate(targets)
        ],
    }


def dashboard(uid: str, title: str, panels: list[Any]) -> dict:
    return {
        "uid": uid,
        "title": title,
        "tags": ["wiredesk"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "editable": True,
        "panels": [panel(i, *p) for i, p in enumerate(panels)],
    }


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=2) + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


if __name__ == "__main__":
    for name, body in render().items():
        (HERE / "dashboards" / name).write_text(body)
        print(f"wrote deploy/grafana/dashboards/{name}")
