"""Where benchmark results go: one JSON file per run, with the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_json(out_dir: Path, name: str, when: str, body: dict[str, Any], **meta: Any) -> Path:
    """Write `body` plus a `meta` header (machine, cores, Python, time, run settings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "when": when,
        **meta,
    }
    path = out_dir / name
    path.write_text(json.dumps({"meta": header, **body}, indent=1))
    print(f"\nwrote {path}", flush=True)
    return path
