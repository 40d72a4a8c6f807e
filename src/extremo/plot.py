"""Pictures of configurations (matplotlib, headless)."""

from __future__ import annotations

import os
from pathlib import Path

from extremo.problems import Problem
from extremo.problems.base import Configuration


def save_picture(problem: Problem, config: Configuration, path: str | os.PathLike,
                 value: float | None = None) -> Path:
    """Draw ``config`` with the problem's own drawing and save it as an image (PNG by suffix)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 6), dpi=110)
    try:
        ax = fig.add_subplot(projection=problem.projection)
        problem.draw(ax, config)
        title = problem.label
        if value is not None:
            title += f"\n{problem.value_name} = {value:.10g}"
            rec = problem.record()
            if rec is not None:
                title += f"   (best known {rec.value:.10g})"
        ax.set_title(title, fontsize=10)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        fig.savefig(tmp, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
    return path
