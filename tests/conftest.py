import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    """Every test gets its own run store; no test touches the user's."""
    monkeypatch.setenv("EXTREMO_STORE", str(tmp_path / "store" / "runs.sqlite"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
