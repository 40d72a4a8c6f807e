import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from extremo.cli import app
from extremo.problems import make
from extremo.store import Store

runner = CliRunner()

GRID4 = {"problem": "circles-sum-radii", "instance": {"n": 4},
         "centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]], "radii": [0.25] * 4}


def write(tmp_path, doc, name="c.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def one_line_error(result, code):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:")
    return " ".join(lines)


def test_problems_lists_the_registry():
    result = runner.invoke(app, ["problems"])
    assert result.exit_code == 0
    assert "circles-sum-radii" in result.output and "2.635983" in result.output


def test_verify_accepts_a_feasible_file(tmp_path):
    result = runner.invoke(app, ["verify", str(write(tmp_path, GRID4))])
    assert result.exit_code == 0, result.output
    assert "feasible" in result.output and "= 1" in result.output


def test_verify_takes_the_problem_from_the_command_line(tmp_path):
    doc = {k: v for k, v in GRID4.items() if k not in ("problem", "instance")}
    result = runner.invoke(app, ["verify", str(write(tmp_path, doc)), "--problem", "circles-sum-radii",
                                 "--n", "4"])
    assert result.exit_code == 0, result.output


def test_verify_rejects_overlap_with_exit_1(tmp_path):
    doc = {**GRID4, "centers": [[0.25, 0.25], [0.74, 0.25], [0.25, 0.75], [0.75, 0.75]]}
    text = one_line_error(runner.invoke(app, ["verify", str(write(tmp_path, doc))]), 1)
    assert "overlap" in text and "circles 0 and 1" in text


@pytest.mark.parametrize(
    "doc, message",
    [
        ({**GRID4, "radii": [0.25] * 3}, "shape"),
        ({**GRID4, "problem": "circles-sum-radius"}, "did you mean"),
        ({**GRID4, "instance": {"n": 1001}}, "out of range"),
        ({**GRID4, "radii": [0.25, 0.25, "x", 0.25]}, "not an array of numbers"),
        ('{"problem": "circles-sum-radii", "instance": {"n": 4}, "centers": [[NaN, 0.1], [0.75, 0.25], '
         '[0.25, 0.75], [0.75, 0.75]], "radii": [0.25, 0.25, 0.25, 0.25]}', "NaN"),
        ("{not json", "not valid JSON"),
        ({k: v for k, v in GRID4.items() if k != "problem"}, "no problem named"),
        ({**GRID4, "instance": {"n": 4, "d": 3}}, "unknown parameter d"),
    ],
)
def test_verify_reports_bad_files_on_one_line_with_exit_2(tmp_path, doc, message):
    text = one_line_error(runner.invoke(app, ["verify", str(write(tmp_path, doc))]), 2)
    assert message in text


def test_verify_missing_file(tmp_path):
    assert "cannot read" in one_line_error(runner.invoke(app, ["verify", str(tmp_path / "none.json")]), 2)


def test_discover_rejects_bad_instances():
    assert "out of range" in one_line_error(runner.invoke(app, ["discover", "circles-sum-radii", "--n", "0"]), 2)
    assert "unknown problem" in one_line_error(runner.invoke(app, ["discover", "circle"]), 2)
    assert "positive" in one_line_error(
        runner.invoke(app, ["discover", "circles-sum-radii", "--n", "3", "--time", "-1"]), 2)


def test_discover_writes_json_picture_and_store_then_resumes(tmp_path):
    out = tmp_path / "out"
    args = ["discover", "circles-sum-radii", "--n", "5", "--time", "2", "--workers", "1", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = make("circles-sum-radii", n=5).record()
    assert record is not None  # n = 5 has a best known value: the summary names it and the gap to it
    assert re.search(rf"^best known +{re.escape(f'{record.value:.13g}')} ", result.output, re.M), result.output
    assert re.search(r"^gap +[+-]\d\.\d{3}e[+-]\d+ \(relative", result.output, re.M), result.output
    doc = json.loads((out / "circles-sum-radii_n5.json").read_text())
    assert (out / "circles-sum-radii_n5.png").stat().st_size > 1000
    assert runner.invoke(app, ["verify", str(out / "circles-sum-radii_n5.json")]).exit_code == 0
    with Store() as s:
        (row,) = s.runs()
        assert row.status == "finished" and row.value == doc["value"]
    again = runner.invoke(app, args + ["--resume", "--seed", "1"])
    assert again.exit_code == 0, again.output
    with Store() as s:
        newest = s.runs()[0]
        assert newest.resumed_from == row.id and newest.value >= row.value
    doc2 = json.loads((out / "circles-sum-radii_n5.json").read_text())
    assert doc2["value"] >= doc["value"]
    listing = runner.invoke(app, ["runs"])
    assert listing.exit_code == 0 and "circles-sum-radii" in listing.output


def test_discover_stops_once_the_target_is_reached(tmp_path):
    args = ["discover", "circles-sum-radii", "--n", "2", "--time", "600", "--workers", "1",
            "--out", str(tmp_path), "--stop-at", "0.5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "target reached" in result.output
    with Store() as s:
        (row,) = s.runs()
        assert row.status == "target reached" and row.value >= 0.5 and row.seconds < 600


def test_resume_without_history_is_a_clear_error(tmp_path):
    text = one_line_error(runner.invoke(app, ["discover", "circles-sum-radii", "--n", "7", "--resume",
                                              "--out", str(tmp_path)]), 2)
    assert "nothing to resume" in text


def test_show_draws_a_picture(tmp_path):
    png = tmp_path / "p.png"
    result = runner.invoke(app, ["show", str(write(tmp_path, GRID4)), "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "use a .png" in one_line_error(runner.invoke(app, ["show", str(write(tmp_path, GRID4)), "-o",
                                                              str(tmp_path / "p.txt")]), 2)


def _start(tmp_path, *extra):
    env = {**os.environ, "EXTREMO_STORE": str(tmp_path / "runs.sqlite")}
    cmd = [sys.executable, "-m", "extremo", "discover", "circles-sum-radii", "--n", "12", "--time", "120",
           "--out", str(tmp_path), *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    target = tmp_path / "circles-sum-radii_n12.json"
    deadline = time.time() + 90
    while not target.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert target.exists(), proc.communicate()[0]
    return proc, target


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_an_interrupted_run_keeps_its_best_configuration(tmp_path, sig):
    proc, target = _start(tmp_path, "--workers", "2")
    time.sleep(1.0)
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0].decode()
    assert "Traceback" not in output
    doc = json.loads(target.read_text())
    result = runner.invoke(app, ["verify", str(target)])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "runs.sqlite") as s:
        (row,) = s.runs()
        assert row.status == "interrupted"
        assert row.value is not None and row.value <= doc["value"] + 1e-15
        assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if sig != signal.SIGKILL:
        # shells' convention: 128 + signal number (130 for Ctrl-C, 143 for SIGTERM)
        assert proc.returncode == 128 + sig and "interrupted" in output


def test_unexpected_errors_keep_their_brackets(monkeypatch, capsys):
    """main()'s catch-all line prints the exception text as it is, not as rich markup."""
    import extremo.cli as cli

    def broken():
        raise RuntimeError("cannot open [bold]runs[/bold] in [/tmp/x] (extremo[ray])")

    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 1
    line = " ".join(capsys.readouterr().err.split())
    assert line == "error: RuntimeError: cannot open [bold]runs[/bold] in [/tmp/x] (extremo[ray])"
