"""Pictures of configurations (matplotlib, headless)."""

from __future__ import annotations

import os
from pathlib import Path

from extremo.io import replace_atomically
from extremo.problems import Problem
from extremo.problems.base import Configuration

#: picture formats by file suffix
FORMATS = (".png", ".svg", ".pdf")


class PictureError(ValueError):
    """A picture cannot be drawn or written; the message is one line saying why."""


def load_matplotlib():
    """Import matplotlib (headless) now: a run does so before its search, so that a Ctrl-C never
    lands in the middle of the import and leaves half a module behind."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_picture(problem: Problem, config: Configuration, path: str | os.PathLike,
                 value: float | None = None) -> Path:
    """Draw ``config`` with the problem's own drawing and save it atomically (format by suffix).

    Raises `PictureError` if the file cannot be written or matplotlib cannot draw the
    configuration (e.g. coordinates near the float64 limit).
    """
    plt = load_matplotlib()
    path = Path(path)
    if path.is_dir():
        raise PictureError(f"cannot write a picture to {path}: it is a directory")
    if path.suffix.lower() not in FORMATS:
        raise PictureError(f"cannot write a picture to {path}: use a {', '.join(FORMATS)} name")
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
        fmt = path.suffix.lower()[1:]
        replace_atomically(path, lambda f: fig.savefig(f, format=fmt, bbox_inches="tight"))
    except OSError as e:
        raise PictureError(f"cannot write a picture to {path}: {e.strerror or e}") from None
    except Exception as e:  # matplotlib's errors of a drawing have no common base class
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PictureError(f"cannot draw {problem.label}: {reason}") from None
    finally:
        plt.close(fig)
    return path
