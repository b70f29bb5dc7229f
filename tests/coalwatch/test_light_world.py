"""The two-worlds rule: the analyst's side of coalwatch never loads torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "lightning", "albumentations")


@pytest.mark.parametrize(
    "statement",
    [
        "import coalwatch, coalwatch.labels, coalwatch.infer",
        "import coalwatch.labels.taxonomy, coalwatch.labels.schema",
        "from coalwatch.cli import build_parser; build_parser()",
    ],
)
def test_light_imports_load_no_torch(statement: str, tmp_path) -> None:
    probe = (
        f"{statement}\n"
        "import sys\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
