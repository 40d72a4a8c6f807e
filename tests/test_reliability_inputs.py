"""Hostile input files, `verify` and `show`: one line and exit 2, never a traceback (issue 13)."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from extremo.cli import app

runner = CliRunner()

GRID4 = {"problem": "circles-sum-radii", "instance": {"n": 4},
         "centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]], "radii": [0.25] * 4}
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line_error(result, code=2):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


def verify_bytes(tmp_path, data: bytes, *args):
    path = tmp_path / "c.json"
    path.write_bytes(data)
    return runner.invoke(app, ["verify", str(path), *args])


@FAST
@given(data=st.binary(max_size=200))
def test_random_bytes_are_refused_on_one_line(tmp_path, data):
    one_line_error(verify_bytes(tmp_path, data))


def test_a_file_that_is_not_utf8_says_so(tmp_path):
    text = one_line_error(verify_bytes(tmp_path, b'{"problem": "circles-sum-radii", "x": "\xff\xfe"}'))
    assert "not UTF-8" in text and "0xff" in text


@FAST
@given(depth=st.integers(1, 200_000), kind=st.sampled_from("[{"))
def test_nesting_of_any_depth_is_refused_on_one_line(tmp_path, depth, kind):
    close = "]" if kind == "[" else "}"
    inner = '"a": ' if kind == "{" else ""
    body = (kind + inner) * depth + "1" + close * depth
    doc = f'{{"problem": "circles-sum-radii", "instance": {{"n": 4}}, "radii": {body}}}'
    one_line_error(verify_bytes(tmp_path, doc.encode()))


@FAST
@given(digits=st.integers(310, 20_000))
def test_integers_beyond_float64_are_refused(tmp_path, digits):
    doc = json.dumps({**GRID4, "radii": [0.25, 0.25, 0.25, "BIG"]}).replace('"BIG"', "9" * digits)
    text = one_line_error(verify_bytes(tmp_path, doc.encode()))
    assert "digits" in text


@pytest.mark.parametrize("bad", ["0.25", True, None, {"x": 1}])
def test_strings_and_booleans_are_not_numbers(tmp_path, bad):
    doc = {**GRID4, "radii": [0.25, 0.25, bad, 0.25]}
    text = one_line_error(verify_bytes(tmp_path, json.dumps(doc).encode()))
    assert "not an array of numbers" in text


def test_a_boolean_instance_parameter_is_refused(tmp_path):
    doc = {**GRID4, "instance": {"n": True}}
    assert "integer" in one_line_error(verify_bytes(tmp_path, json.dumps(doc).encode()))


def test_the_instance_may_be_given_at_the_top_level(tmp_path):
    doc = {"problem": "circles-sum-radii", "n": 4, **{k: GRID4[k] for k in ("centers", "radii")}}
    result = verify_bytes(tmp_path, json.dumps(doc).encode())
    assert result.exit_code == 0 and "n=4: feasible" in result.output, result.output
    clash = {**doc, "instance": {"n": 5}}
    assert "top level" in one_line_error(verify_bytes(tmp_path, json.dumps(clash).encode()))


def test_verify_refuses_a_file_of_another_problem_unless_forced(tmp_path):
    doc = json.dumps({**GRID4, "problem": "circles-rect", "instance": {"n": 4}}).encode()
    text = one_line_error(verify_bytes(tmp_path, doc, "--problem", "circles-sum-radii"))
    assert "--problem is 'circles-sum-radii'" in text and "'circles-rect'" in text and "--force" in text
    forced = verify_bytes(tmp_path, doc, "--problem", "circles-sum-radii", "--force")
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize("nudge, words", [(1, "1 ulp (1.1e-16)"), (4, "4 ulp (4.4e-16)")])
def test_a_rejection_by_a_few_ulps_names_the_amount(tmp_path, nudge, words):
    import numpy as np

    x = 0.75
    for _ in range(nudge):
        x = float(np.nextafter(x, 0))
    doc = {"problem": "circles-sum-radii", "n": 2, "centers": [[0.25, 0.5], [x, 0.5]], "radii": [0.25, 0.25]}
    text = one_line_error(verify_bytes(tmp_path, json.dumps(doc).encode()), 1)
    assert f"overlap by {words}" in text


def test_overflowing_values_raise_no_numpy_warning(tmp_path):
    doc = {**GRID4, "centers": [[1e200, 1e200], [-1e200, 1e200], [0.25, 0.75], [0.75, 0.75]]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "extremo", "verify", str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": ""})
    assert proc.returncode == 1 and "Warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------------------------- show -o
def grid_file(tmp_path, doc=GRID4):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("where, words", [
    ("dir", "it is a directory"),
    ("under-file/p.png", "cannot write a picture"),
    ("p.txt", "use a .png"),
])
def test_show_refuses_an_output_it_cannot_write(tmp_path, where, words):
    (tmp_path / "dir").mkdir()
    (tmp_path / "under-file").write_text("a file, not a folder")
    text = one_line_error(runner.invoke(app, ["show", grid_file(tmp_path), "-o", str(tmp_path / where)]))
    assert words in text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_show_refuses_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    text = one_line_error(runner.invoke(app, ["show", grid_file(tmp_path), "-o", str(ro / "p.png")]))
    assert "cannot write a picture" in text


def test_show_refuses_a_configuration_matplotlib_cannot_draw(tmp_path):
    doc = {"problem": "points-min-distance", "instance": {"n": 3, "d": 2},
           "points": [[1e308, 1e308], [-1e308, 0], [0, 0]]}
    result = runner.invoke(app, ["show", grid_file(tmp_path, doc), "-o", str(tmp_path / "p.png")])
    text = one_line_error(result)
    assert "cannot draw points-min-distance n=3 d=2" in text
    assert not list(tmp_path.glob(".p.png*"))


def test_a_picture_is_written_with_the_usual_permissions(tmp_path):
    result = runner.invoke(app, ["show", grid_file(tmp_path), "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o666 & ~mask

