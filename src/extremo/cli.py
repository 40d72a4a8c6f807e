"""Command line: ``extremo problems | discover | verify | show | runs``."""

from __future__ import annotations

import importlib.util
import math
import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from extremo.problems import ProblemError, make, problem_class, problem_names
from extremo.search.parallel import BACKENDS
from extremo.store import Store, StoreError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Discover record-quality extremal geometric configurations.",
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

N_OPT = typer.Option(None, "--n", help="number of points / circles")
D_OPT = typer.Option(None, "--d", help="dimension (problems that have one)")
REGION_OPT = typer.Option(None, "--region", help="region (heilbronn: square, triangle, ...)")
STORE_OPT = typer.Option(None, "--store", help="SQLite run store [default: $EXTREMO_STORE or "
                         "~/.local/share/extremo/runs.sqlite]")


def _fail(message: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _header(prob, note: str = "") -> None:
    """The first line of a run: instance, what it is, and the best known value with its source."""
    rec = prob.record()
    console.print(f"[bold]{prob.label}[/]{note}: {prob.title}; best known "
                  f"{_fmt(rec.value if rec else None, 12)}" + (f" ({rec.source})" if rec else ""))


def _fmt(v: float | None, digits: int = 10) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def _gap(g: float | None) -> str:
    return "-" if g is None else f"{g:+.3e}"


def _instance(n, d, region) -> dict:
    return {"n": n, "d": d, "region": region}


@app.command()
def problems() -> None:
    """List the problems, their parameters, headline instances and best known values."""
    table = Table(title="extremo problems", show_lines=True)
    for col in ("problem", "goal", "parameters", "headline instances (best known)"):
        table.add_column(col, overflow="fold")
    for name in problem_names():
        cls = problem_class(name)
        params = ", ".join(
            f"{p.name}: {'|'.join(p.choices) if p.choices else f'{p.low}..{p.high}'}" for p in cls.parameters
        )
        heads = []
        for inst in cls.headline:
            prob = cls(**inst)
            rec = prob.record()
            heads.append(f"{' '.join(f'{k}={v}' for k, v in inst.items())}: {_fmt(rec.value if rec else None)}")
        table.add_row(name, cls.title, params, "\n".join(heads) or "-")
    console.print(table)


@app.command()
def discover(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    n: Optional[int] = N_OPT,
    d: Optional[int] = D_OPT,
    region: Optional[str] = REGION_OPT,
    time: float = typer.Option(60.0, "--time", help="wall-clock budget in seconds"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    workers: Optional[int] = typer.Option(None, "--workers", help="processes [default: all cores]"),
    out: Path = typer.Option(Path("."), "--out", help="directory for the JSON and PNG files"),
    store: Optional[Path] = STORE_OPT,
    resume: bool = typer.Option(False, "--resume", help="start from the best stored configuration"),
    stop_at: Optional[float] = typer.Option(None, "--stop-at", help="stop once the best value is this good"),
    backend: str = typer.Option("processes", "--backend",
                                help="processes (this machine) or ray (the cluster at $RAY_ADDRESS)"),
) -> None:
    """Search for a record-quality configuration; writes JSON + PNG and records the run."""
    from extremo.discover import discover as run
    from extremo.discover import resume_points

    if not time > 0:
        _fail(f"--time must be a positive number of seconds, got {time:g}", 2)
    if workers is not None and workers < 1:
        _fail(f"--workers must be at least 1, got {workers}", 2)
    if backend not in BACKENDS:
        _fail(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}", 2)
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        _fail('--backend ray needs Ray: pip install "extremo[ray]"', 2)
    try:
        prob = make(problem, **_instance(n, d, region))
        db = Store(store)
        if resume:
            resume_points(prob, db, out)
    except (ProblemError, StoreError) as e:
        _fail(str(e), 2)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _header(prob)
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("best [bold]{task.fields[best]}[/]  gap {task.fields[gap]}  rounds {task.fields[rounds]}")]
    with db, Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("searching", total=time, best="-", gap="-", rounds=0)

        def update(progress, best, elapsed):
            bar.update(task, completed=min(elapsed, time), best=_fmt(best),
                       gap=_gap(prob.gap(best)), rounds=progress.rounds)

        try:
            result = run(prob, seconds=time, workers=workers, seed=seed, out=out, store=db,
                         resume=resume, on_progress=update, stop_at=stop_at, backend=backend)
        except ProblemError as e:
            _fail(str(e), 2)
        bar.update(task, completed=time if result.status == "finished" else result.seconds)
    _summary(result)
    if not result.success:
        _fail(f"{prob.label}: no feasible configuration found in {time:g} s", 1)


@app.command()
def boost(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    n: Optional[int] = N_OPT,
    d: Optional[int] = D_OPT,
    region: Optional[str] = REGION_OPT,
    time: float = typer.Option(300.0, "--time", help="wall-clock budget in seconds"),
    mode: str = typer.Option("closed", "--mode", help="closed (reward-guided) or open (retrain on elites)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    out: Path = typer.Option(Path("."), "--out", help="directory for the JSON and PNG files"),
    store: Optional[Path] = STORE_OPT,
    resume: bool = typer.Option(False, "--resume", help="continue the latest boost run of the instance"),
    stop_at: Optional[float] = typer.Option(None, "--stop-at", help="stop once the best value is this good"),
) -> None:
    """The learned closed loop: flow-matching generator + local search; writes JSON + PNG."""
    from extremo.boost import MODES
    from extremo.boost import boost as run
    from extremo.boost import find_checkpoint
    from extremo.boost.views import view_of
    from extremo.discover import resume_points

    if not time > 0:
        _fail(f"--time must be a positive number of seconds, got {time:g}", 2)
    if mode not in MODES:
        _fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}", 2)
    try:
        prob = make(problem, **_instance(n, d, region))
        view_of(prob)
        db = Store(store)
        if resume and find_checkpoint(db, prob) is None:
            resume_points(prob, db, out)
    except (ProblemError, StoreError) as e:
        _fail(str(e), 2)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _header(prob, f" ({mode} loop)")
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("round {task.fields[round]}  best [bold]{task.fields[best]}[/]  gap {task.fields[gap]}"
                          "  diversity {task.fields[diversity]}")]
    with db, Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("boosting", total=time, best="-", gap="-", round=0, diversity="-")

        def update(p):
            bar.update(task, completed=min(p.elapsed, time), best=_fmt(p.best), gap=_gap(prob.gap(p.best)),
                       round=p.round, diversity=_fmt(p.diversity, 3), description=p.phase)

        try:
            result = run(prob, seconds=time, mode=mode, seed=seed, out=out, store=db, resume=resume,
                         on_progress=update, stop_at=stop_at)
        except ProblemError as e:
            _fail(str(e), 2)
        bar.update(task, completed=time if result.status == "finished" else result.seconds)
    _summary(result)
    if not result.success:
        _fail(f"{prob.label}: no feasible configuration found in {time:g} s", 1)


def _summary(result) -> None:
    prob, rec = result.problem, result.record
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("instance", prob.label)
    table.add_row(prob.value_name, _fmt(result.value, 13))
    if rec is not None:
        table.add_row("best known", f"{_fmt(rec.value, 13)}  ({rec.source}" + (f", {rec.date})" if rec.date else ")"))
        table.add_row("gap", f"{_gap(result.gap)} (relative, positive = short of the record)")
    table.add_row("status", f"{result.status} after {result.seconds:.1f} s, {result.rounds} rounds, "
                            f"{result.evaluations} evaluations")
    if result.run_id is not None:
        table.add_row("run", str(result.run_id))
    for name, path in (("json", result.json_path), ("picture", result.png_path)):
        if path is not None:
            table.add_row(name, str(path))
    console.print(table)


@app.command()
def verify(
    file: Path = typer.Argument(..., help="configuration JSON"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    n: Optional[int] = N_OPT,
    d: Optional[int] = D_OPT,
    region: Optional[str] = REGION_OPT,
) -> None:
    """Strictly verify a configuration: exit 0 and its value, or exit 1 and the reason."""
    from extremo.io import read_configuration

    try:
        prob, config = read_configuration(file, problem, **_instance(n, d, region))
    except ProblemError as e:
        _fail(str(e), 2)
    verdict = prob.verify(config)
    if not verdict.feasible:
        _fail(f"{prob.label}: infeasible: {verdict.reason}", 1)
    rec = prob.record()
    console.print(f"{prob.label}: feasible, {prob.value_name} = {verdict.value:.15g}"
                  + (f"; best known {rec.value:.12g}, gap {_gap(prob.gap(verdict.value))}" if rec else ""))


@app.command()
def show(
    file: Path = typer.Argument(..., help="configuration JSON"),
    output: Path = typer.Option(..., "-o", "--output", help="picture to write (.png, .svg, .pdf)"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    n: Optional[int] = N_OPT,
    d: Optional[int] = D_OPT,
    region: Optional[str] = REGION_OPT,
) -> None:
    """Draw a configuration (circles, points, worst triangle, discrepancy box, sphere)."""
    from extremo.io import read_configuration
    from extremo.plot import save_picture

    if output.suffix.lower() not in {".png", ".svg", ".pdf"}:
        _fail(f"cannot write a picture to {output}: use a .png, .svg or .pdf name", 2)
    try:
        prob, config = read_configuration(file, problem, **_instance(n, d, region))
    except ProblemError as e:
        _fail(str(e), 2)
    verdict = prob.verify(config)
    save_picture(prob, config, output, verdict.value if verdict.feasible else None)
    if not verdict.feasible:
        err.print(f"warning: {prob.label} is infeasible: {verdict.reason}", highlight=False)
    console.print(f"wrote {output}")


@app.command()
def runs(
    problem: Optional[str] = typer.Option(None, "--problem", help="only runs of this problem"),
    limit: int = typer.Option(20, "--limit", help="how many runs, newest first"),
    store: Optional[Path] = STORE_OPT,
) -> None:
    """History of runs from the store."""
    if limit < 1:
        _fail(f"--limit must be at least 1, got {limit}", 2)
    try:
        if problem is not None:
            problem_class(problem)
        with Store(store) as db:
            rows = db.runs(problem=problem, limit=limit)
            path = db.path
    except (ProblemError, StoreError) as e:
        _fail(str(e), 2)
    table = Table(title=f"runs in {path}", title_justify="left")
    for col in ("id", "instance", "seed", "status", "started (UTC)", "s", "value", "gap"):
        table.add_column(col, no_wrap=col in ("id", "instance", "value"))
    for r in rows:
        try:
            gap = _gap(make(r.problem, **r.instance).gap(r.value if r.value is not None else math.nan))
        except ProblemError:
            gap = "-"
        label = r.label if r.command == "discover" else f"{r.label} ({r.command})"
        table.add_row(str(r.id), label, str(r.seed), r.status, r.started[:16].replace("T", " "),
                      f"{r.seconds:.0f}", _fmt(r.value, 12), gap)
    console.print(table if rows else f"no runs in {path}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
