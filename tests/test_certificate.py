"""Certified records: exact rational checks with zero tolerance, and the certificate file."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.certificate import certificate_path, certify, certify_file, describe, record_bound
from extremo.io import read_configuration
from extremo.problems import ProblemError, make
from extremo.problems.exact_check import sqrt_rounded

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_sqrt_rounded_agrees_with_ieee_sqrt_on_floats(x):
    assert sqrt_rounded(Fraction(x)) == math.sqrt(x)


def test_sqrt_rounded_of_a_rational_is_correctly_rounded():
    q = Fraction(2, 3)
    f = sqrt_rounded(q)
    for g in (math.nextafter(f, 0), math.nextafter(f, 1)):
        assert abs(Fraction(f) ** 2 - q) <= abs(Fraction(g) ** 2 - q)


def _touching_pair():
    p = make("circles-sum-radii", n=2)
    return p, {"centers": np.array([[0.25, 0.5], [0.75, 0.5]]), "radii": np.array([0.25, 0.25])}


def test_exact_slack_zero_for_touching_circles_and_negative_one_ulp_closer():
    p, config = _touching_pair()
    check = p.exact_check(config)
    assert check.slacks["separation"] == 0 and check.slacks["walls"] == 0 and check.feasible
    assert check.value == Fraction(1, 2)
    config["centers"][1, 0] = math.nextafter(0.75, 0)
    assert p.exact_check(config).slacks["separation"] < 0
    assert not p.exact_check(config).feasible


def test_star_discrepancy_60_beats_2510_03650_exactly(tmp_path):
    src = EXAMPLES / "star-discrepancy_n60_d2.json"
    target = tmp_path / src.name
    target.write_bytes(src.read_bytes())
    cert = certify_file(target)
    assert cert.beats and cert.feasible
    doc = json.loads(certificate_path(target).read_text())
    exact = Fraction(doc["value"]["exact"])
    assert float(exact) == doc["value"]["rounded_once"]
    prob, config = read_configuration(target)
    assert doc["value"]["rounded_once"] == prob.verify(config).value
    assert doc["record"]["value"] == 0.023363388 and "2510.03650" in doc["record"]["source"]
    assert Fraction(doc["margin"]["exact"]) == record_bound(prob, prob.record()) - exact > 0
    assert all(Fraction(s["exact"]) >= 0 for s in doc["minimal_slacks"].values())
    assert "certified new record" in describe(cert)


def test_a_tie_is_not_a_record(tmp_path):
    # N = 20: the proven optimum 0.060362899 is in the table to 9 decimals; extremo's 0.0603628987 ties
    # with it (within the printed resolution), so there is no certificate
    src = EXAMPLES / "star-discrepancy_n20_d2.json"
    target = tmp_path / src.name
    target.write_bytes(src.read_bytes())
    cert = certify_file(target)
    assert cert.feasible and not cert.beats
    assert not certificate_path(target).exists()


def test_distance_records_compare_squares():
    prob = make("points-min-distance", n=4, d=2)  # record 1 (the corners), proven
    corners = {"points": np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])}
    cert = certify(prob, corners)
    assert cert.check.squared and cert.check.value == 1 and cert.check.rounded == 1.0
    assert not cert.beats and cert.margin < 0


def test_infeasible_configurations_are_refused():
    p, config = _touching_pair()
    config["radii"][0] = 0.3
    with pytest.raises(ProblemError, match="infeasible"):
        certify(p, config)


def test_problems_without_exact_check_return_none():
    prob = make("thomson", n=4)
    from extremo.problems.sphere import unit_rows

    pts = unit_rows(np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]))
    assert certify(prob, {"points": pts}) is None
