"""benchmarks/circles_sota.py refuses to run without a checkout of the peer solver."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "circles_sota.py"


def run(env_value, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CIRCLE_PACKING_SOTA"}
    if env_value is not None:
        env["CIRCLE_PACKING_SOTA"] = env_value
    return subprocess.run([sys.executable, str(SCRIPT), "--n", "26", "--time", "1",
                           "--results", str(tmp_path / "r.sqlite")], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("where", [None, "missing", "empty"])
def test_without_a_checkout_one_line_and_exit_2(where, tmp_path):
    value = {None: None, "missing": str(tmp_path / "nowhere"), "empty": str(tmp_path)}[where]
    proc = run(value, tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: CIRCLE_PACKING_SOTA")
    assert "solver/pack.py" in lines[0]
    assert not (tmp_path / "r.sqlite").exists()
