"""Command line: ``extremo problems | discover | boost | verify | show | runs | records | sweep | export``."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from extremo.problems import ProblemError, make, plugin_errors, problem_class, problem_classes, problem_names
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
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)  # "extremo[ray]" is no markup
    raise typer.Exit(code)


#: library parameters whose flag is not ``--<name-with-dashes>``
_FLAGS = {"seconds": "--time", "output": "-o"}


def _flag(parameter: str) -> str:
    return _FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def _bad_input(e: Exception) -> str:
    """The one-line message of a library error, with parameters named by their flags."""
    from extremo.search.arguments import ParameterError

    return e.message(_flag) if isinstance(e, ParameterError) else str(e)


#: exit status after a signal, as shells report it (128 + signal number)
_SIGNALLED = {"code": 128 + signal.SIGINT}


def _on_sigterm(signum, frame) -> None:
    _SIGNALLED["code"] = 128 + signum
    raise KeyboardInterrupt


def _end_run(result, time: float) -> None:
    """Summary, notes and exit status of a discover/boost run (130/143 after Ctrl-C/SIGTERM)."""
    _summary(result)
    for note in result.notes:
        err.print(f"note: {note}", highlight=False, soft_wrap=True)
    if result.status == "interrupted":
        raise typer.Exit(_SIGNALLED["code"])
    if not result.success:
        _fail(f"{result.problem.label}: no feasible configuration found in {time:g} s", 1)


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


def instance_command(own_options: tuple[str, ...] = (), **command_kwargs):
    """Register a command taking a problem instance: one ``--<name>`` option per instance
    parameter of the registered problems (built-ins and plugins), passed to the function as
    ``instance``, a dict of the options set (unset ones are ``None``; `make` drops them).
    The options go right after the parameter named ``problem``. Parameters in ``own_options``
    are the command's own options (``--n 2-100`` of ``sweep``): no option is generated for them."""

    def decorate(func):
        sig = inspect.signature(func)
        own = [p for p in sig.parameters.values() if p.name != "instance"]
        at = next((k + 1 for k, p in enumerate(own) if p.name == "problem"), len(own))
        names, extra = [], []
        for name, (kind, help_) in _instance_parameters().items():
            if name in own_options:
                continue
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
    # numpy's floating-point warnings (overflow of hostile inputs) are not the user's business,
    # here and in the worker processes
    warnings.simplefilter("ignore", RuntimeWarning)
    os.environ.setdefault("PYTHONWARNINGS", "ignore::RuntimeWarning")
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
    from extremo.discover import check_arguments
    from extremo.discover import discover as run
    from extremo.recorder import check_output, resume_points

    try:
        check_arguments(time, workers, seed, stop_at, backend)
        if backend == "ray" and importlib.util.find_spec("ray") is None:
            _fail('--backend ray needs Ray: pip install "extremo[ray]"', 2)
        prob = make(problem, **instance)
        check_output(prob, out)
        db = Store(store)
        if resume:
            resume_points(prob, db, out)
    except (ProblemError, StoreError) as e:
        _fail(_bad_input(e), 2)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _header(prob)
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("best [bold]{task.fields[best]}[/]  gap {task.fields[gap]}  rounds {task.fields[rounds]}")]
    with db, Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("searching", total=time, best="-", gap="-", rounds=0)

        def update(progress, best, elapsed):
            bar.update(task, completed=min(elapsed, time), best=_fmt(best),
                       gap=_gap(prob.gap(best)), rounds=progress.rounds)

        result = run(prob, seconds=time, workers=workers, seed=seed, out=out, store=db,
                     resume=resume, on_progress=update, stop_at=stop_at, backend=backend)
        bar.update(task, completed=time if result.status == "finished" else result.seconds)
    _end_run(result, time)


@instance_command()
def boost(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    time: float = typer.Option(300.0, "--time", help="wall-clock budget in seconds"),
    mode: str = typer.Option("closed", "--mode", help="closed (reward-guided) or open (retrain on elites)"),
    finetune: str = typer.Option("rwr", "--finetune", help="closed loop: rwr (reward-weighted regression) or "
                                 "policy (policy optimisation over the sampler noise)"),
    transfer: int = typer.Option(0, "--transfer", help="pre-train on the stored bests of sizes n-T..n+T (0: off)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    workers: Optional[int] = typer.Option(None, "--workers", help="independent loops, one process each "
                                          "[default: all cores]"),
    out: Path = typer.Option(Path("."), "--out", help="directory for the JSON and PNG files"),
    store: Optional[Path] = STORE_OPT,
    resume: bool = typer.Option(False, "--resume", help="continue the latest boost run of the instance"),
    stop_at: Optional[float] = typer.Option(None, "--stop-at", help="stop once the best value is this good"),
    instance: dict = None,
) -> None:
    """The learned closed loop: flow-matching generator + local search; writes JSON + PNG."""
    from extremo.boost import BoostSettings, find_checkpoint
    from extremo.boost import boost as run
    from extremo.boost.loop import check_arguments
    from extremo.boost.views import view_of
    from extremo.recorder import check_output, resume_points

    try:
        settings = BoostSettings(finetune=finetune, transfer=transfer)
        check_arguments(time, mode, seed, stop_at, settings, workers)
        prob = make(problem, **instance)
        view_of(prob)
        check_output(prob, out)
        db = Store(store)
        if resume and find_checkpoint(db, prob) is None:
            resume_points(prob, db, out)
    except (ProblemError, StoreError) as e:
        _fail(_bad_input(e), 2)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _header(prob, f" ({mode} loop)")
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("round {task.fields[round]}  best [bold]{task.fields[best]}[/]  gap {task.fields[gap]}"
                          "  diversity {task.fields[diversity]}")]
    with db, Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("boosting", total=time, best="-", gap="-", round=0, diversity="-")

        def update(p):
            bar.update(task, completed=min(p.elapsed, time), best=_fmt(p.best), gap=_gap(prob.gap(p.best)),
                       round=p.round, diversity=_fmt(p.diversity, 3), description=p.phase)

        result = run(prob, seconds=time, mode=mode, seed=seed, out=out, store=db, resume=resume,
                     settings=settings, on_progress=update, stop_at=stop_at, workers=workers)
        bar.update(task, completed=time if result.status == "finished" else result.seconds)
    _end_run(result, time)


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
    file: Path = typer.Argument(..., help="configuration JSON, or a file in a problem's own format (.pck)"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    force: bool = typer.Option(False, "--force", help="verify as --problem even if the file names another"),
    instance: dict = None,
) -> None:
    """Strictly verify a configuration: exit 0 and its value, or exit 1 and the reason.

    A configuration that beats the stored record is checked in exact rational arithmetic; if it
    beats it exactly, a certificate is written next to the JSON (NAME.certificate.json)."""
    from extremo.certificate import certify, describe, write_certificate
    from extremo.io import read_configuration
    from extremo.sweep import verdict as standing

    fmt = file.suffix.lower().lstrip(".")
    try:
        if fmt == "json":
            prob, config = read_configuration(file, problem, force=force, **instance)
            verdict = prob.verify(config)
        else:
            prob, text = _problem_of_text(file, fmt, problem, instance)
            verdict, config = prob.verify_text(fmt, text, where=str(file))
    except ProblemError as e:
        _fail(_bad_input(e), 2)
    if not verdict.feasible:
        _fail(f"{prob.label}: infeasible: {verdict.reason}", 1)
    rec = prob.record()
    console.print(f"{prob.label}: feasible, {prob.value_name} = {verdict.value:.15g}"
                  + (f"; best known {rec.value:.12g}, gap {_gap(prob.gap(verdict.value))}" if rec else ""))
    if standing(prob, verdict.value, rec) == "win":
        cert = certify(prob, config)
        if cert is None:
            console.print(f"{prob.label}: beats the record numerically; {prob.name} has no exact check, so it is "
                          "not called a record")
            return
        console.print(describe(cert))
        if cert.beats and fmt == "json":
            console.print(f"wrote {write_certificate(cert, file)}")


def _problem_of_text(file: Path, fmt: str, problem: str | None, instance: dict):
    """The problem instance of a file in a problem's own format (``--problem`` required) and its text."""
    if problem is None:
        raise ProblemError(f"{file}: a .{fmt} file does not name its problem; pass --problem")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProblemError(f"cannot read {file}: {getattr(e, 'strerror', None) or e}") from None
    inst = {**problem_class(problem).instance_of_text(fmt, text), **{k: v for k, v in instance.items() if v is not None}}
    prob = make(problem, **inst)
    if fmt not in prob.file_formats:
        raise ProblemError(f"{prob.label} reads no .{fmt} files; formats: {', '.join(('json',) + tuple(prob.file_formats))}")
    return prob, text


@instance_command()
def export(
    file: Path = typer.Argument(..., help="configuration JSON"),
    format: str = typer.Option(..., "--format", help="file format of the problem, e.g. pck (Packomania)"),
    output: Path = typer.Option(..., "-o", "--output", help="file to write"),
    author: str = typer.Option("extremo", "--author", help="author line of the file"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    instance: dict = None,
) -> None:
    """Write a configuration in a problem's own file format (pck: Packomania's submission format)."""
    from extremo.io import read_configuration, replace_atomically

    try:
        prob, config = read_configuration(file, problem, **instance)
        verdict = prob.verify(config)
        if not verdict.feasible:
            _fail(f"{prob.label}: infeasible: {verdict.reason}", 1)
        if format not in prob.file_formats:
            raise ProblemError(f"--format {format}: {prob.label} writes "
                               f"{', '.join(prob.file_formats) or 'no other format than JSON'}")
        text, note = prob.write_text(format, config, author)
        replace_atomically(output, lambda f: f.write(text.encode("utf-8")))
    except ProblemError as e:
        _fail(_bad_input(e), 2)
    except OSError as e:
        _fail(f"cannot write {output}: {e.strerror or e}", 2)
    console.print(f"wrote {output}: {note}")


@instance_command()
def show(
    file: Path = typer.Argument(..., help="configuration JSON"),
    output: Path = typer.Option(..., "-o", "--output", help="picture to write (.png, .svg, .pdf)"),
    problem: Optional[str] = typer.Option(None, "--problem", help="problem, if the file does not name it"),
    instance: dict = None,
) -> None:
    """Draw a configuration (circles, points, worst triangle, discrepancy box, sphere)."""
    from extremo.io import read_configuration
    from extremo.plot import PictureError, save_picture

    try:
        prob, config = read_configuration(file, problem, force=True, **instance)
        verdict = prob.verify(config)
        save_picture(prob, config, output, verdict.value if verdict.feasible else None)
    except (ProblemError, PictureError) as e:
        _fail(_bad_input(e), 2)
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
            path, version = db.path, db.version
    except (ProblemError, StoreError) as e:
        _fail(_bad_input(e), 2)
    from extremo.store import SCHEMA_VERSION

    if version > SCHEMA_VERSION:
        err.print(f"note: {path} was written by a newer extremo (schema {version}, this one reads {SCHEMA_VERSION}); "
                  "columns it does not know are not shown", highlight=False, soft_wrap=True)
    for r in rows:
        if r.damage:
            err.print(f"warning: run {r.id} in {path} is damaged: {r.damage}", highlight=False, soft_wrap=True)
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


@instance_command(own_options=("n",))
def records(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    n: Optional[str] = typer.Option(None, "--n", help="sizes: a range 2-100 or a list 5,12,24 [default: all]"),
    instance: dict = None,
) -> None:
    """Print the best known values of a problem (value, proven, source, date, unit, conversion)."""
    from extremo.sweep import parse_sizes

    try:
        cls = problem_class(problem)
        sizes = set(parse_sizes(n)) if n is not None else None
    except (ProblemError, ValueError) as e:
        _fail(_bad_input(e), 2)
    fixed = {k: v for k, v in instance.items() if v is not None}
    table = Table(title=f"{problem}: best known values ({cls.value_name})", title_justify="left")
    keys = sorted({k for inst, _ in cls.records() for k in inst}, key=[p.name for p in cls.parameters].index)
    for col in (*keys, "value", "proven", "date", "as published", "source"):
        table.add_column(col, no_wrap=col != "as published")
    sources: list[str] = []
    shown = 0
    for inst, rec in cls.records():
        if sizes is not None and inst.get("n") not in sizes:
            continue
        if any(k in inst and inst[k] != v for k, v in fixed.items()):
            continue
        if rec.source not in sources:
            sources.append(rec.source)
        published = rec.exact or (f"{rec.unit} {rec.source_value}, value {rec.conversion} (x = that)"
                                  if rec.conversion else "")
        table.add_row(*(str(inst[k]) for k in keys), repr(rec.value), "yes" if rec.proven_optimal else "",
                      rec.date, published, f"[{sources.index(rec.source) + 1}]")
        shown += 1
    table.caption = "\n".join(f"[{k}] {s}" for k, s in enumerate(sources, 1))
    table.caption_justify = "left"
    console.print(table if shown else f"{problem}: no records in this range")


@instance_command(own_options=("n",))
def sweep(
    problem: str = typer.Argument(..., help="problem name (see `extremo problems`)"),
    n: str = typer.Option(..., "--n", help="sizes: a range 2-100 or a list 5,12,24"),
    time: float = typer.Option(60.0, "--time", help="wall-clock budget per instance and seed, seconds"),
    seeds: int = typer.Option(1, "--seeds", help="seeds 0..K-1 per instance"),
    workers: Optional[int] = typer.Option(None, "--workers", help="processes per run [default: all cores]"),
    backend: str = typer.Option("processes", "--backend", help="processes (one instance at a time) or ray "
                                "(every instance a task on the cluster at $RAY_ADDRESS)"),
    out: Path = typer.Option(Path("sweep"), "--out", help="folder for the JSON/PNG files and the summary"),
    store: Optional[Path] = STORE_OPT,
    report: bool = typer.Option(False, "--report", help="only write the summary of what the store holds"),
    stop_at_record: bool = typer.Option(False, "--stop-at-record", help="stop each instance once it ties or "
                                        "beats its record (no record: the full budget)"),
    instance: dict = None,
) -> None:
    """A campaign: one discover per instance and seed, resumable; writes summary.md/.csv and index.html."""
    from extremo.certificate import certify_file
    from extremo.io import check_writable
    from extremo.report import STOPPED_AT_RECORD, provenance, write_report
    from extremo.sweep import CampaignProgress, outcome, parse_sizes
    from extremo.sweep import sweep as run_sweep

    try:
        sizes = parse_sizes(n)
        fixed = {k: v for k, v in instance.items() if v is not None}
        problems = [make(problem, n=k, **fixed) for k in sizes]
        if not time > 0:
            raise ValueError(f"--time must be a positive number of seconds, got {time:g}")
        if seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {seeds}")
        if workers is not None and workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        if backend not in ("processes", "ray"):
            raise ValueError(f"--backend must be processes or ray, got {backend!r}")
        if backend == "ray" and importlib.util.find_spec("ray") is None:
            raise ValueError('--backend ray needs Ray: pip install "extremo[ray]"')
        check_writable(out)
        db = Store(store)
    except (ProblemError, StoreError, ValueError) as e:
        _fail(_bad_input(e), 2)
    signal.signal(signal.SIGTERM, _on_sigterm)
    interrupted = False
    with db:
        if not report:
            columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                       TimeElapsedColumn(), TextColumn("{task.fields[note]}")]
            with Progress(*columns, console=console, transient=False) as bar:
                campaign = bar.add_task("campaign", total=len(problems) * seeds, note="")
                current = bar.add_task("instance", total=time, note="")
                seen: set[tuple[str, int]] = set()

                def update(p: CampaignProgress) -> None:
                    key = (p.label, p.seed)
                    if key not in seen:
                        seen.add(key)
                        bar.update(campaign, completed=len(seen) - (0 if p.skipped else 1))
                        bar.reset(current, total=p.budget)
                    bar.update(current, completed=min(p.elapsed, p.budget),
                               description=f"{p.label} seed {p.seed}",
                               note=("stored: " if p.skipped else "best ") + _fmt(p.best, 12))
                    if p.skipped:
                        bar.update(campaign, completed=len(seen))

                try:
                    run_sweep(problem, sizes, time, fixed=fixed, seeds=seeds, workers=workers, out=out,
                              store=db, backend=backend, on_progress=update, stop_at_record=stop_at_record)
                except KeyboardInterrupt:
                    interrupted = True
                bar.update(campaign, completed=len(seen) if interrupted else len(problems) * seeds)
        outcomes = [outcome(p, db, out, seeds) for p in problems]
    certified = set()
    for o in outcomes:
        if o.verdict == "win" and o.json_path is not None:
            cert = certify_file(o.json_path)
            if cert is not None and cert.beats:
                certified.add(o.problem.label)
    command = "extremo sweep " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["sweep"] else f"extremo sweep {problem} --n {n}"
    notes = [STOPPED_AT_RECORD] if stop_at_record else []
    paths = write_report(outcomes, out, title=f"extremo sweep: {problem} " +
                         " ".join(f"{k}={v}" for k, v in fixed.items()) + f" n={n}, {time:g} s x {seeds} seed(s)",
                         provenance=provenance(command), certified=certified, notes=notes)
    table = Table(title=f"{problem}: standing against the records", title_justify="left")
    from extremo.report import COLUMNS, rows, tally

    shown = rows(outcomes, certified)
    for col in COLUMNS:
        if col != "record source":
            table.add_column(col, no_wrap=col == "instance")
    for r in shown:
        table.add_row(*(r[c] for c in COLUMNS if c != "record source"))
    table.caption = "\n".join([tally(shown), *notes])
    console.print(table)
    console.print("wrote " + ", ".join(str(p) for p in paths))
    if interrupted:
        raise typer.Exit(_SIGNALLED["code"])


def main() -> None:
    """Run the command line: bad input exits 2, a failure 1, Ctrl-C 130 and SIGTERM 143, each
    with one line on stderr."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(_SIGNALLED["code"])
    except Exception as e:  # anything else: one line, never a traceback
        from extremo.recorder import one_line

        err.print(f"[bold red]error:[/] {escape(one_line(e))}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
