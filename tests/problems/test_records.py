"""Record tables: one format, read by the base class, matching the project's sources."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest

from extremo.problems import make, problem_class, problem_names
from extremo.problems.records import COLUMNS, RecordTableError, evaluate, polynomial_root, record_table

SHARED = Path("/work/shared/records")


def test_every_problem_table_parses_and_matches_the_problem():
    for name in problem_names():
        cls = problem_class(name)
        keys = [tuple(sorted(inst.items())) for inst, _ in cls.records()]
        assert len(keys) == len(set(keys)), f"{name}: an instance listed twice"
        for instance, rec in cls.records():
            assert set(instance) <= {p.name for p in cls.parameters}, (name, instance)
            assert math.isfinite(rec.value) and rec.source, (name, instance)
            prob = make(name, **instance)
            assert prob.record() == rec


@pytest.mark.parametrize("n, expected", [
    (13, 0.0270199166691111), (15, 0.0212105410054906),  # Karpov 2026, Sudermann-Merx 2026
    (14, 0.0243039796209925), (7, 0.0838590090), (10, 0.0465374196), (12, 0.0325988587), (16, 7 / 341)])
def test_heilbronn_square_corrections(n, expected):
    rec = make("heilbronn", n=n, region="square").record()
    digits = len(repr(expected).split(".")[1])
    assert round(rec.value, digits) == expected


def test_heilbronn_14_is_the_root_of_its_cubic_to_full_precision():
    rec = make("heilbronn", n=14, region="square").record()
    assert rec.exact == "root(320, 768, -60, 1; 2)"
    x = Fraction(rec.value)
    p = lambda t: 320 * t**3 + 768 * t**2 - 60 * t + 1  # noqa: E731
    lo, hi = Fraction(math.nextafter(rec.value, 0)), Fraction(math.nextafter(rec.value, 1))
    assert (p(lo) > 0) != (p(hi) > 0)  # a sign change between the float neighbours
    assert abs(p(x)) < Fraction(1, 10**12)


def test_triangle_12_is_cantrell():
    rec = make("heilbronn", n=12, region="triangle").record()
    assert rec.value == 0.0310047817 and "Cantrell" in rec.source


def test_csqv_table_is_the_shared_tsv_digit_for_digit():
    rows = [ln.split("\t") for ln in (SHARED / "packomania_csqv_2026-10-01.tsv").read_text().splitlines()
            if ln and ln[0].isdigit()]
    assert len(rows) == 100
    for n, value in rows:
        assert make("circles-sum-radii", n=int(n)).record().value == float(value)


def test_star_discrepancy_records():
    for line in (SHARED / "star_discrepancy_2510.03650.tsv").read_text().splitlines():
        if not line or not line[0].isdigit():
            continue
        n, value = line.split("\t")
        rec = make("star-discrepancy", n=int(n), d=2).record()
        if int(n) > 21:
            assert rec.value == float(value) and "2510.03650" in rec.source
    assert make("star-discrepancy", n=60, d=2).record().value == 0.023363388
    assert make("star-discrepancy", n=20, d=2).record().proven_optimal
    assert make("star-discrepancy", n=40, d=2).record().value == 0.033126636


def test_spheres_in_a_cube_from_the_published_cube_side():
    rec = make("points-min-distance", n=55, d=3).record()
    assert rec.source_value == "7.620882328042" and rec.conversion == "2/(x-2)"
    assert rec.value == 2 / (7.620882328042 - 2)
    assert round(rec.value, 10) == 0.3558160238
    assert round(make("points-min-distance", n=83, d=3).record().value, 10) == 0.3030509858
    assert round(make("points-min-distance", n=191, d=3).record().value, 10) == 0.2209721502


def test_instances_without_record():
    assert make("star-discrepancy", n=30, d=3).record() is None
    assert make("circles-sum-radii", n=101).record() is None


def test_expressions():
    assert evaluate("sqrt(13)/6") == math.sqrt(13) / 6
    assert evaluate("2/(x-2)", 4.0) == 1.0
    assert polynomial_root([Fraction(1), Fraction(0), Fraction(-2)], 2) == math.sqrt(2)
    for bad in ("__import__('os')", "x", "1 +", "open(1)"):
        with pytest.raises(ValueError):
            evaluate(bad)


def test_table_format_columns():
    assert COLUMNS[0] == "value" and record_table("no-such-problem") == ()


def test_a_malformed_table_is_named(tmp_path, monkeypatch):
    from extremo.problems import records

    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "x.tsv").write_text("n\t" + "\t".join(COLUMNS) + "\n3\tnot a number\tno\t\tsrc\t\t\t\n")

    class Files:
        def __truediv__(self, other):
            return tmp_path / other

    monkeypatch.setattr(records.resources, "files", lambda package: Files())
    records.record_table.cache_clear()
    try:
        with pytest.raises(RecordTableError, match="x.tsv:2"):
            record_table("x")
    finally:
        records.record_table.cache_clear()


@pytest.mark.parametrize("n, value", [(5, 3 - 2 * math.sqrt(2)), (6, 1 / 8), (7, 7 / 72), (8, 0.0677892132541972),
                                      (9, 43 / 784), (10, 0.0433767406780494)])
def test_triangle_5_to_10_are_friedmans_table(n, value):
    rec = make("heilbronn", n=n, region="triangle").record()
    assert rec.value == pytest.approx(value, rel=1e-15) and "Friedman" in rec.source
    assert rec.proven_optimal == (n <= 7)
