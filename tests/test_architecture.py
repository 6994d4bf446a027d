"""The layer contracts of ARCHITECTURE.md hold, and a wrong import breaks them.

``lint-imports`` (import-linter, configured in ``pyproject.toml``) runs in
``scripts/test`` on the real tree; these tests show that the contracts are
not vacuous: the same configuration, run on a copy of the tree with one
deliberately wrong import, fails and names it.
"""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bridge", "cloud_stub", "custom_components"):
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(tree)},
        check=False,
    )


def _add_import(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    marker = "from __future__ import annotations\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + "\n" + line + "\n", 1), encoding="utf-8")


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("bridge/core/programs.py", "import bridge.storage", "Bridge layers"),
        ("bridge/api/errors.py", "import bridge.daemon", "Bridge layers"),
        ("bridge/api/errors.py", "import bridge.storage", "The API reaches storage only"),
        ("bridge/core/schedule.py", "import sqlite3", "The core is pure"),
        ("bridge/opentherm/frame.py", "import bridge.core.programs", "OpenTherm knows nothing"),
        ("cloud_stub/store.py", "import bridge.storage", "The cloud stand-in"),
        (
            "custom_components/thermosmart/const.py",
            "import bridge.core",
            "The Home Assistant integration",
        ),
        ("bridge/storage/core.py", "import bridge.storage.db", "No import cycle"),
        ("bridge/unit/protocol.py", "import aiohttp", "The unit's protocol is pure"),
        ("bridge/unit/calendar.py", "import bridge.services", "Bridge layers"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    _copy_tree(tmp_path)
    _add_import(tmp_path / module, bad_import)
    result = _lint(tmp_path)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout
