"""Command line: ``extremo problems | discover | verify | show | runs``."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from extremo.problems import ProblemError, make, plugin_errors, problem_class, problem_classes, problem_names
from extremo.search.parallel import BACKENDS
from extremo.store import Store, StoreError

try:  # typer >= 0.22 carries its own click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click import UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Discover record-quality extremal geometric configurations.",
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

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


class _OneLineUsage(typer.core.TyperCommand):
    """A command whose usage errors (unknown option, bad value) are one line and exit 2."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as e:
            _fail(f"{e.format_message()}; see `extremo {ctx.info_name} --help`", 2)
            raise  # unreachable: _fail exits


#: instance parameters that a command's own option shadows: (problem, parameter, command)
_SHADOWED: list[tuple[str, str, str]] = []


def _instance_parameters() -> dict[str, tuple[type, str]]:
    """Union of the registered problems' instance parameters: name -> (option type, help).

    A parameter is an integer option unless some problem gives it choices (then text; the
    problem's own validation converts and checks the value)."""
    found: dict[str, tuple[type, str, list[str]]] = {}
    for cls in problem_classes():
        for p in cls.parameters:
            kind = str if p.choices else int
            if p.name in found:
                old_kind, help_, users = found[p.name]
                found[p.name] = (old_kind if old_kind is kind else str, help_, users + [cls.name])
            else:
                found[p.name] = (kind, p.help, [cls.name])
    return {k: (kind, f"{help_} ({', '.join(users)})") for k, (kind, help_, users) in found.items()}


def instance_command(**command_kwargs):
    """Register a command taking a problem instance: one ``--<name>`` option per instance
    parameter of the registered problems (built-ins and plugins), passed to the function as
    ``instance``, a dict of the options set (unset ones are ``None``; :func:`make` drops them).
    The options go right after the parameter named ``problem``."""

    def decorate(func):
        sig = inspect.signature(func)
        own = [p for p in sig.parameters.values() if p.name != "instance"]
        at = next((k + 1 for k, p in enumerate(own) if p.name == "problem"), len(own))
        names, extra = [], []
        for name, (kind, help_) in _instance_parameters().items():
            if name in sig.parameters:
                _SHADOWED.append((help_, name, func.__name__))
                continue
            names.append(name)
            extra.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                           default=typer.Option(None, f"--{name}", help=help_),
                                           annotation=Optional[kind]))

        @functools.wraps(func)
        def command(**kwargs):
            instance = {k: kwargs.pop(k) for k in names}
            return func(**kwargs, instance=instance)

        command.__signature__ = sig.replace(parameters=own[:at] + extra + own[at:])
        return app.command(cls=_OneLineUsage, **command_kwargs)(command)

    return decorate


@app.callback()
def _startup() -> None:
    """Discover record-quality extremal geometric configurations."""
    for line in plugin_errors():
        err.print(f"warning: {line}", highlight=False, soft_wrap=True)
    for users, name, command in _SHADOWED:
        err.print(f"warning: --{name} of `extremo {command}` shadows the instance parameter {name} of "
                  f"{users}; rename the parameter", highlight=False, soft_wrap=True)


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


@instance_command()
def discover(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    time: float = typer.Option(60.0, "--time", help="wall-clock budget in seconds"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    workers: Optional[int] = typer.Option(None, "--workers", help="processes [default: all cores]"),
    out: Path = typer.Option(Path("."), "--out", help="directory for the JSON and PNG files"),
    store: Optional[Path] = STORE_OPT,
    resume: bool = typer.Option(False, "--resume", help="start from the best stored configuration"),
    stop_at: Optional[float] = typer.Option(None, "--stop-at", help="stop once the best value is this good"),
    backend: str = typer.Option("processes", "--backend",
                                help="processes (this machine) or ray (the cluster at $RAY_ADDRESS)"),
    instance: dict = None,
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
        prob = make(problem, **instance)
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


@instance_command()
def boost(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    time: float = typer.Option(300.0, "--time", help="wall-clock budget in seconds"),
    mode: str = typer.Option("closed", "--mode", help="closed (reward-guided) or open (retrain on elites)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    out: Path = typer.Option(Path("."), "--out", help="directory for the JSON and PNG files"),
    store: Optional[Path] = STORE_OPT,
    resume: bool = typer.Option(False, "--resume", help="continue the latest boost run of the instance"),
    stop_at: Optional[float] = typer.Option(None, "--stop-at", help="stop once the best value is this good"),
    instance: dict = None,
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
        prob = make(problem, **instance)
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


@instance_command()
def verify(
    file: Path = typer.Argument(..., help="configuration JSON"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    instance: dict = None,
) -> None:
    """Strictly verify a configuration: exit 0 and its value, or exit 1 and the reason."""
    from extremo.io import read_configuration

    try:
        prob, config = read_configuration(file, problem, **instance)
    except ProblemError as e:
        _fail(str(e), 2)
    verdict = prob.verify(config)
    if not verdict.feasible:
        _fail(f"{prob.label}: infeasible: {verdict.reason}", 1)
    rec = prob.record()
    console.print(f"{prob.label}: feasible, {prob.value_name} = {verdict.value:.15g}"
                  + (f"; best known {rec.value:.12g}, gap {_gap(prob.gap(verdict.value))}" if rec else ""))


@instance_command()
def show(
    file: Path = typer.Argument(..., help="configuration JSON"),
    output: Path = typer.Option(..., "-o", "--output", help="picture to write (.png, .svg, .pdf)"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    instance: dict = None,
) -> None:
    """Draw a configuration (circles, points, worst triangle, discrepancy box, sphere)."""
    from extremo.io import read_configuration
    from extremo.plot import save_picture

    if output.suffix.lower() not in {".png", ".svg", ".pdf"}:
        _fail(f"cannot write a picture to {output}: use a .png, .svg or .pdf name", 2)
    try:
        prob, config = read_configuration(file, problem, **instance)
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
