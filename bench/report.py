"""How every benchmark writes its results: one JSON shape, one place."""

from __future__ import annotations

import json
from pathlib import Path
import platform
from typing import Any


def write_results(path: Path | None, name: str, results: Any) -> None:
    """Write ``{"benchmark": name, "python": version, "results": results}`` to ``path``
    (its folder made if need be); nothing when ``path`` is None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "python": platform.python_version(), "results": results}
    path.write_text(json.dumps(doc, indent=2) + "\n")
