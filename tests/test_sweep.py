"""Sweep campaigns: sizes, resumable runs, the summary, the gallery in a headless browser."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extremo.problems import make
from extremo.store import Store
from extremo.sweep import outcome, parse_sizes, plan, record_target, sweep, verdict


def cli(*args: str, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extremo", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_parse_sizes():
    assert parse_sizes("2-5") == [2, 3, 4, 5]
    assert parse_sizes("5,12,2-3") == [2, 3, 5, 12]
    for bad, message in (("10-2", "empty"), ("abc", "range like"), ("", "range like"), ("3-", "range like")):
        with pytest.raises(ValueError, match=message):
            parse_sizes(bad)


def test_verdicts_against_the_record_resolution():
    p = make("star-discrepancy", n=40, d=2)  # record 0.033126636, to 9 decimals
    rec = p.record()
    assert verdict(p, 0.0331266365, rec) == "tie"
    assert verdict(p, 0.0331256, rec) == "win"
    assert verdict(p, 0.033128, rec) == "below"
    assert verdict(p, float("nan"), rec) is None
    q = make("circles-sum-radii", n=2)
    assert verdict(q, 2 - 2**0.5, q.record()) == "tie"  # the table truncates 0.5857864376269...


def test_sweep_runs_records_and_skips_finished_instances(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    out = tmp_path / "out"
    results = sweep("circles-sum-radii", [1, 2], 1.0, workers=1, out=out, store=store)
    assert [o.problem.instance["n"] for o in results] == [1, 2]
    assert all(o.verdict == "tie" for o in results)
    assert all(o.json_path.exists() and o.png_path.exists() and o.seconds_to_best is not None for o in results)
    before = len(store.runs(limit=100))
    again = sweep("circles-sum-radii", [1, 2], 1.0, workers=1, out=out, store=store)
    assert len(store.runs(limit=100)) == before  # nothing ran again
    assert [o.value for o in again] == [o.value for o in results]
    # a larger budget is a new campaign: the instances run again
    assert plan(make("circles-sum-radii", n=1), store, 0, 2.0)[0] == "run"
    store.close()


def test_record_target_is_where_the_verdict_turns_tie():
    for p in (make("circles-sum-radii", n=5), make("star-discrepancy", n=40, d=2)):  # max and min
        target, rec = record_target(p), p.record()
        assert verdict(p, target, rec) == "tie"
        worse = target - rec.tolerance if p.sense == "max" else target + rec.tolerance
        assert verdict(p, worse, rec) == "below"
    assert record_target(make("hexagons", n=2)) is None


def test_stop_at_record_stops_at_the_record_and_a_rerun_skips(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    out = tmp_path / "out"
    # the optima of n = 1, 2 are found in the first round: far inside the budget
    results = sweep("circles-sum-radii", [1, 2], 120.0, workers=1, out=out, store=store, stop_at_record=True)
    assert [o.verdict for o in results] == ["tie", "tie"]
    runs = store.runs(limit=100)
    assert len(runs) == 2 and {r.status for r in runs} == {"target reached"}
    # a run stopped at its record is done for this budget: a rerun skips it
    assert plan(make("circles-sum-radii", n=2), store, 0, 120.0)[0] == "skip"
    seen = []
    sweep("circles-sum-radii", [1, 2], 120.0, workers=1, out=out, store=store, stop_at_record=True,
          on_progress=seen.append)
    assert len(store.runs(limit=100)) == 2 and seen and all(p.skipped for p in seen)
    # an instance without a record runs its full budget
    sweep("hexagons", [2], 1.0, workers=1, out=out, store=store, stop_at_record=True)
    assert store.runs(problem="hexagons", limit=10)[0].status == "finished"
    store.close()


def test_sweep_cli_stop_at_record_is_said_in_the_summary(tmp_path):
    out = tmp_path / "o"
    r = cli("sweep", "circles-sum-radii", "--n", "2", "--time", "120", "--workers", "1", "--stop-at-record",
            "--out", str(out), "--store", str(tmp_path / "s.sqlite"))
    assert r.returncode == 0, r.stderr
    for name in ("summary.md", "index.html"):
        assert "--stop-at-record: each instance with a record stopped" in (out / name).read_text()
    assert "--stop-at-record" in r.stdout
    with Store(tmp_path / "s.sqlite") as store:
        assert store.runs(limit=1)[0].status == "target reached"


def test_sweep_cli_bad_input(tmp_path):
    for args, message in ((["--n", "10-2"], "empty"), (["--n", "abc"], "range like"),
                          (["--n", "1000-1001"], "out of range"), (["--n", "2", "--time", "0"], "--time")):
        r = cli("sweep", "circles-sum-radii", *args, "--out", str(tmp_path / "o"), "--store",
                str(tmp_path / "s.sqlite"))
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("sweep", "circles-sum-radii", "--n", "2", "--time", "1", "--out", str(blocker / "sub"),
            "--store", str(tmp_path / "s.sqlite"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.slow
def test_killed_sweep_resumes_and_loses_nothing(tmp_path):
    out, db = tmp_path / "out", tmp_path / "runs.sqlite"
    args = ["sweep", "circles-sum-radii", "--n", "5", "--time", "60", "--workers", "1", "--out", str(out),
            "--store", str(db)]
    proc = subprocess.Popen([sys.executable, "-m", "extremo", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    json_path = out / "circles-sum-radii_n5.json"
    deadline = time.monotonic() + 120
    while not json_path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json_path.exists()
    with Store(db) as store:
        prob = make("circles-sum-radii", n=5)
        action, budget, prior = plan(prob, store, 0, 60.0)
        assert action == "resume" and 0 < budget < 60 and prior.value is not None
        kept = prior.value
        # the rerun resumes it from the stored best (budget cut short here: 1 s campaign)
        results = sweep("circles-sum-radii", [5], 1.0, workers=1, out=out, store=store)
        assert results[0].value >= kept
        newest = store.runs(label=prob.label, limit=1)[0]
        assert newest.resumed_from == prior.id


def test_report_and_gallery_in_a_headless_browser(tmp_path):
    out, db = tmp_path / "out", tmp_path / "runs.sqlite"
    r = cli("sweep", "circles-sum-radii", "--n", "1-3", "--time", "1", "--workers", "1", "--out", str(out),
            "--store", str(db))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [row["instance"] for row in rows] == [f"circles-sum-radii n={n}" for n in (1, 2, 3)]
    assert set(rows[0]) >= {"instance", "record", "value", "relative gap", "seconds to best", "verdict"}
    md = (out / "summary.md").read_text()
    assert "extremo sweep circles-sum-radii" in md and "commit" in md
    r = cli("sweep", "circles-sum-radii", "--n", "1-3", "--time", "1", "--out", str(out), "--store", str(db),
            "--report")
    assert r.returncode == 0 and "3 tie" in r.stdout.replace("\n", " ") or "tie" in r.stdout
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = (out / "index.html").read_text()
    probe = page.replace("</body>", "<script>window.addEventListener('load', () => { document.body.dataset.widths = "
                         "Array.from(document.images).map(i => i.complete ? i.naturalWidth : -1).join(','); });"
                         "</script></body>")
    (out / "probe.html").write_text(probe)
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--virtual-time-budget=5000", "--dump-dom", (out / "probe.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    widths = re.search(r'data-widths="([^"]*)"', dom)
    assert widths is not None, dom[:500]
    values = [int(w) for w in widths.group(1).split(",")]
    assert len(values) == 3 and all(w > 0 for w in values)


def test_tally_counts_verdicts_the_median_gap_below_and_those_within_1e_6():
    from extremo.report import tally

    table = [{"verdict": "tie", "relative gap": "0.000e+00"}, {"verdict": "below", "relative gap": "2.000e-04"},
             {"verdict": "below", "relative gap": "5.000e-07"}, {"verdict": "", "relative gap": ""},
             {"verdict": "win (certified)", "relative gap": "-1.000e-03"}]
    assert tally(table) == "1 win, 1 tie, 2 below (median gap 1.0e-04), 1 without record; 3 of 4 within 1e-06"
    assert tally([]) == ""
