"""A problem from a package of one's own: registered through the ``extremo.problems`` entry-point
group and then accepted by every command, without editing extremo. The package is a real
distribution (a module and its ``.dist-info`` with ``entry_points.txt``) in a temporary
directory put on ``PYTHONPATH`` of a child process; a second, broken plugin is reported in one
line and does not stop the others."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
"""A user's problem: k points in [0, 1] maximising their smallest gap (optimum 1 / (k - 1))."""
import torch

from extremo.problems import Parameter
from extremo.problems.declarative import DeclarativeProblem, Variable


class Gaps(DeclarativeProblem):
    name = "plugin-gaps"
    title = "k points on a segment maximising the smallest gap"
    sense = "max"
    parameters = (Parameter("k", "number of points", 2, 20, default=4),)
    headline = ({"k": 4},)

    def variables(self):
        return {"x": Variable((self.instance["k"],))}

    def objective(self, v, ops):
        x = v["x"]
        i, j = torch.triu_indices(x.shape[-1], x.shape[-1], 1)
        return ops.min((x[:, i] - x[:, j]).abs())
'''


def install(root, name, module_source, entry):
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[extremo.problems]\n{entry}\n")


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    install(root, "extremo_gaps", PLUGIN, "plugin-gaps = extremo_gaps:Gaps")
    install(root, "extremo_broken", "raise ImportError('needs a library that is not installed')",
            "broken = extremo_broken:Missing")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return env, tmp_path_factory.mktemp("out")


def extremo(env, *args):
    return subprocess.run([sys.executable, "-m", "extremo", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_plugin_problem_is_listed_and_a_broken_one_reported_in_one_line(plugin_env):
    env, _ = plugin_env
    result = extremo(env, "problems")
    assert result.returncode == 0, result.stderr
    assert "plugin-gaps" in result.stdout and "circles-sum-radii" in result.stdout
    warnings = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(warnings) == 1 and "broken" in warnings[0] and "ImportError" in warnings[0]
    assert "Traceback" not in result.stderr


def test_discover_verify_and_show_accept_the_plugin_and_its_option(plugin_env):
    env, out = plugin_env
    store = str(out / "runs.sqlite")
    result = extremo(env, "discover", "plugin-gaps", "--k", "5", "--time", "5", "--workers", "1",
                     "--out", str(out), "--store", store)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads((out / "plugin-gaps_k5.json").read_text())
    assert doc["problem"] == "plugin-gaps" and doc["instance"] == {"k": 5}
    assert abs(doc["value"] - 0.25) < 1e-6  # five points 1/4 apart
    checked = extremo(env, "verify", str(out / "plugin-gaps_k5.json"))
    assert checked.returncode == 0 and "feasible" in checked.stdout, checked.stdout + checked.stderr
    drawn = extremo(env, "show", str(out / "plugin-gaps_k5.json"), "-o", str(out / "gaps.png"))
    assert drawn.returncode == 0 and (out / "gaps.png").stat().st_size > 1000


def test_an_option_no_problem_takes_is_one_line_with_exit_2(plugin_env):
    env, out = plugin_env
    result = extremo(env, "discover", "plugin-gaps", "--kk", "5", "--time", "1")
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error:") and "--kk" in lines[0]
