"""The package type-checks with mypy --strict (the settings in pyproject.toml), as its py.typed promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e './clients/python[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict"],
        cwd=PACKAGE_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
