"""Packomania .pck files: read, verify exactly, write (rounded, sorted, still feasible)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.io import read_configuration
from extremo.problems import ProblemError, make
from extremo.problems.packomania import parse_pck

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extremo", *args], capture_output=True, text=True, timeout=120)


def test_circles_round_trip_is_exactly_feasible_sorted_and_12_decimals():
    prob, config = read_configuration(EXAMPLES / "circles-sum-radii_n26.json")
    text, note = prob.write_text("pck", config, author="A. Tester")
    lines = text.splitlines()
    assert lines[1] == "A. Tester" and len(lines) == 2 + 26
    rows = [ln.split() for ln in lines[2:]]
    assert all(len(r) == 3 and all(len(c.split(".")[1]) == 12 for c in r) for r in rows)
    radii = [Decimal(r[2]) for r in rows]
    assert radii == sorted(radii, reverse=True) and Decimal(lines[0]) == radii[0]
    verdict, back = prob.verify_text("pck", text)
    assert verdict.feasible
    original = prob.verify(config).value
    assert 0 <= original - verdict.value <= 26 * 2e-12  # rounding down costs at most ~1e-12 a circle
    assert "decimals" in note
    key = lambda c: c[np.lexsort(c.T[::-1])]  # noqa: E731 (the file sorts circles by radius)
    assert np.allclose(key(back["centers"]), key(config["centers"]), atol=1e-12)


def test_min_distance_round_trip():
    prob, config = read_configuration(EXAMPLES / "points-min-distance_n30_d2.json")
    text, _ = prob.write_text("pck", config)
    verdict, back = prob.verify_text("pck", text)
    assert verdict.feasible and abs(verdict.value - prob.verify(config).value) < 1e-10
    assert prob.verify(back).value == pytest.approx(verdict.value, abs=1e-10)
    with pytest.raises(ProblemError, match="reads no"):
        make("points-min-distance", n=30, d=3).read_text("pck", text)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_any_feasible_packing_stays_feasible_after_rounding(n, seed):
    prob = make("circles-sum-radii", n=n)
    rng = np.random.default_rng(seed)
    x = prob.repair(np.concatenate([rng.random((n, 2)), rng.random((n, 1)) * 0.5], 1).ravel())
    config = prob.to_config(x)
    text, _ = prob.write_text("pck", config)
    assert prob.verify_text("pck", text)[0].feasible


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "x.pck"
    path.write_text(text)
    return path


GOOD = "0.25\nme\n-0.25 0 0.25\n0.25 0 0.25\n"


@pytest.mark.parametrize("text, message", [
    ("0.25\nme\n-0.25 0 0.25\n", "1 coordinate lines, expected 2"),
    ("0.25\nme\n-0.25 0 0.25\n0.25 zero 0.25\n", "expected 3 numbers"),
    ("0.25\nme\n-0.25 0 0.25\n0.30 0 0.25\n", "outside the square"),
    ("0.25\nme\n-0.25 0 0.25\n0.25 0 0.25", "truncated"),
    ("", "empty"),
    ("radius\nme\n", "line 1 must be the radius"),
])
def test_malformed_files_are_one_line_errors(text, message):
    with pytest.raises(ProblemError, match=message):
        parse_pck(text, 2, equal=False)


def test_overlap_in_the_decimals_is_caught_exactly():
    prob = make("circles-sum-radii", n=2)
    assert prob.verify_text("pck", GOOD)[0].feasible  # touching is allowed
    verdict = prob.verify_text("pck", "0.25\nme\n-0.25 0 0.25\n0.249999999999 0 0.25\n")[0]
    assert not verdict.feasible and "overlap" in verdict.reason


def test_cli_export_and_verify(tmp_path):
    out = tmp_path / "c26.pck"
    r = cli("export", str(EXAMPLES / "circles-sum-radii_n26.json"), "--format", "pck", "-o", str(out))
    assert r.returncode == 0, r.stderr
    r = cli("verify", str(out), "--problem", "circles-sum-radii")
    assert r.returncode == 0 and "feasible" in r.stdout
    bad = _write(tmp_path, GOOD[:-1])
    r = cli("verify", str(bad), "--problem", "circles-sum-radii")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "truncated" in r.stderr
    overlap = _write(tmp_path, "0.25\nme\n-0.25 0 0.25\n0.2 0 0.25\n")
    r = cli("verify", str(overlap), "--problem", "circles-sum-radii")
    assert r.returncode == 1 and "overlap" in r.stderr
    r = cli("verify", str(out))
    assert r.returncode == 2 and "--problem" in r.stderr
    r = cli("export", str(EXAMPLES / "tammes_n24.json"), "--format", "pck", "-o", str(tmp_path / "t.pck"))
    assert r.returncode == 2 and "writes no other format" in r.stderr
