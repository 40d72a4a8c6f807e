"""The examples run as scripts on small sizes and produce sane results."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_script(name, *args):
    out = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_poincare_tree_script_reconstructs_a_small_tree():
    out = run_script("poincare_tree", "--branching", "2", "--depth", "4", "--dim", "3", "--epochs", "300",
                     "--threads", "1")
    mean_rank, mean_ap = map(float, re.search(r"mean rank ([\d.]+), MAP ([\d.]+)", out).groups())
    assert mean_rank < 1.5 and mean_ap > 0.95, out
    norms = [float(r) for r in out.split("(root -> leaves):")[1].split()]
    assert len(norms) == 5 and all(a < b for a, b in zip(norms, norms[1:])), out  # root at the centre


def test_poincare_tree_construction_and_reconstruction_scores():
    tree = load("poincare_tree")
    parents, depth_of = tree.balanced_tree(2, 3)
    assert parents.tolist() == [-1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert depth_of.tolist() == [0, 1, 1, 2, 2, 2, 2] + [3] * 8
    adj = tree.closure_adjacency(parents, 3)
    assert adj[0].sum() == 14 and adj[7].tolist() == [i in (0, 1, 3) for i in range(15)]
    # exact scores for a distance that separates neighbours perfectly, poor ones for a random distance
    assert tree.reconstruction(torch.where(adj, 0.5, 1.0).double(), adj) == (1.0, 1.0)
    rand = torch.rand(15, 15, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mean_rank, mean_ap = tree.reconstruction(rand + rand.T, adj)
    assert mean_rank > 2.0 and mean_ap < 0.8


def test_stiefel_eigenvectors_script_matches_eigh():
    out = run_script("stiefel_eigenvectors", "--n", "60", "--k", "3", "--samples", "300", "--threads", "1")
    rows = {}
    for line in out.splitlines():
        if line.startswith(("| stiefel", "| grassmann")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = [float(c) for c in cells[3:]]
    assert sorted(rows) == ["grassmann", "stiefel", "stiefel-canonical"], out
    for method, (subspace, eigenvalue, eigenvector) in rows.items():
        assert subspace < 1e-8 and eigenvalue < 1e-12 and eigenvector < 1e-8, (method, out)
