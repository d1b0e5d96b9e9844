"""The lint rules of pyproject.toml's [tool.ruff] hold over the whole tree (imports sorted, lines within 120
characters, no mutable defaults, zip with strict…): run with the suite, so that CI keeps them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
