"""Session set-up shared by the platform's and the first-party Briks' tests.

The example Briks under tests/example_briks are installed with pip into a directory of this
test session (never into the product's environment) and found through their entry points,
exactly as a third party's Brik would be.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from softbrik.briks import load_briks
from softbrik.settings import Settings

EXAMPLES = Path(__file__).parent / "tests" / "example_briks"


@pytest.fixture(scope="session")
def example_briks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    projects = sorted(p for p in EXAMPLES.iterdir() if (p / "pyproject.toml").exists())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(target),
            *map(str, projects),
        ],
        check=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    return target


@pytest.fixture(scope="session")
def softbrik_briks(softbrik_settings: Settings, example_briks_dir: Path) -> Any:
    return load_briks(softbrik_settings)
