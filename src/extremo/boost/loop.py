"""The learned closed loop (FlowBoost, Berczi, Hashemi and Klüver 2026, arXiv 2601.18005).

::

    warm-up: local search -> elites -> pre-train the flow generator on the elites
    round k: generator --(ODE + projection + repair)--> feasible samples
             samples --(batched penalty relaxation + SLSQP polish)--> polished samples
             polished --> the run's one local search (elites, adapted kick strength), a few seconds of
             its rounds (kicks of its elites, fresh starts) --> new elites, best
             closed: fine-tune on polished samples, reward (rank) weights, trust region to v_ref
             open:   retrain on the elites with equal weights (PatternBoost-style)
             checkpoint (model, optimizer, elites, best, round) in the run store

Like :func:`extremo.discover.discover`, the run is recorded by a :class:`~extremo.recorder.RunRecorder`:
every improvement is re-verified, recorded in the store and written atomically to
``<out>/<slug>.json`` if it beats the file at that moment, so Ctrl-C or a kill keeps the best
configuration; ``resume=True`` continues the latest boost run of the instance from its checkpoint
(round counter, model, elites and best carried over).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from extremo.boost.network import NetworkConfig, VelocityNet
from extremo.boost.sampling import sample
from extremo.boost.symmetry import mean_pairwise_distance
from extremo.boost.training import fit, rank_weights
from extremo.boost.views import ObjectView, view_of
from extremo.flows import METHODS
from extremo.problems import Problem, ProblemError
from extremo.recorder import RunRecorder, RunResult, resume_points
from extremo.search.arguments import check_choice, check_seconds, check_seed, check_target, worker_seed
from extremo.search.local import Candidate, LocalSearch, SearchSettings
from extremo.store import Store

MODES = ("closed", "open")
CHECKPOINT = "boost"


@dataclass
class BoostSettings:
    """Knobs of the loop (defaults: tens of objects, a 2-core machine, minutes)."""

    samples: int = 32
    ode_steps: int = 10
    method: str = "euler"
    noise: float = 0.05
    prox_steps: int = 0
    polish_top: int = 4
    local_seconds: float = 4.0
    warmup: float = 0.25
    elites: int = 32
    train_steps: int = 40
    pretrain_steps: int = 150
    train_batch: int = 32
    lr: float = 2e-3
    trust: float = 1.0
    temperature: float = 0.25
    width: int = 32
    layers: int = 2
    #: torch threads inside the loop: its tensors are small, and on a shared 2-core machine thread
    #: synchronisation made a training step 30x slower with 2 threads than with 1
    threads: int = 1

    def as_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        if self.method not in METHODS:
            raise ProblemError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("samples", "ode_steps", "elites", "train_batch", "width", "layers", "threads"):
            if getattr(self, name) < 1:
                raise ProblemError(f"boost setting {name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.warmup < 1:
            raise ProblemError(f"boost setting warmup is a fraction of the time in [0, 1), got {self.warmup}")


@dataclass
class BoostProgress:
    round: int = 0
    best: float = math.nan
    diversity: float = math.nan
    evaluations: int = 0
    elapsed: float = 0.0
    phase: str = "warm-up"


class _Elites:
    """The best distinct candidates, best first (distinct: relative values differ by more than 1e-10;
    of two near-equal ones the better is kept)."""

    def __init__(self, problem: Problem, size: int) -> None:
        self.problem, self.size, self.items = problem, size, []

    def add(self, cands: list[Candidate]) -> None:
        for c in cands:
            twin = [k for k, e in enumerate(self.items) if abs(e.value - c.value) <= 1e-10 * max(1.0, abs(c.value))]
            if not twin:
                self.items.append(c)
            elif self.problem.better(c.value, self.items[twin[0]].value):
                self.items[twin[0]] = c
        self.items.sort(key=lambda e: -e.value if self.problem.sense == "max" else e.value)
        del self.items[self.size:]


def find_checkpoint(store: Store, problem: Problem) -> tuple[int, dict] | None:
    """The latest boost run of the instance that left a checkpoint, and the checkpoint."""
    for row in store.runs(label=problem.label, limit=200):
        if row.command != "boost":
            continue
        data = store.load_checkpoint(row.id, CHECKPOINT)
        if data is not None:
            return row.id, torch.load(io.BytesIO(data), weights_only=True)
    return None


def _pack(net, optimizer, elites: _Elites, round_: int, evaluations: int, mode: str) -> bytes:
    buf = io.BytesIO()
    items = elites.items
    torch.save({
        "network": net.config.as_dict(),
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "elites": torch.as_tensor(np.stack([e.x for e in items])) if items else torch.zeros(0),
        "values": torch.tensor([e.value for e in items], dtype=torch.float64),
        "round": round_,
        "evaluations": evaluations,
        "mode": mode,
    }, buf)
    return buf.getvalue()


def make_network(view: ObjectView, settings: BoostSettings) -> VelocityNet:
    return VelocityNet(NetworkConfig(view.features, (view.problem.name,), square=view.square,
                                     width=settings.width, layers=settings.layers))


def check_arguments(seconds: float, mode: str, seed: int, stop_at: float | None,
                    settings: BoostSettings | None = None) -> None:
    """Validate the arguments of :func:`boost` (:class:`~extremo.search.arguments.ParameterError`
    naming the parameter)."""
    check_seconds(seconds)
    check_choice("mode", mode, MODES)
    check_seed(seed)
    check_target(stop_at)
    (settings or BoostSettings()).check()


def boost(
    problem: Problem,
    seconds: float = 60.0,
    mode: str = "closed",
    seed: int = 0,
    out: str | Path = ".",
    store: Store | None = None,
    resume: bool = False,
    settings: BoostSettings | None = None,
    on_progress: Callable[[BoostProgress], None] | None = None,
    stop_at: float | None = None,
) -> RunResult:
    """Run the learned loop on ``problem`` for ``seconds`` (see the module docstring).

    ``mode``: ``"closed"`` (reward-guided fine-tuning) or ``"open"`` (retrain on elites).
    ``on_progress(progress)`` is called after the warm-up, every round and every improvement.
    """
    settings = settings or BoostSettings()
    check_arguments(seconds, mode, seed, stop_at, settings)
    view = view_of(problem)
    search_settings = SearchSettings(**problem.search_defaults)
    gen = torch.Generator().manual_seed(seed)
    net = make_network(view, settings)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    elites = _Elites(problem, settings.elites)
    progress = BoostProgress()
    resumed_from, initial = None, []
    if resume:
        found = find_checkpoint(store, problem) if store is not None else None
        if found is not None:
            resumed_from, ckpt = found
            if NetworkConfig(**{**ckpt["network"], "problems": tuple(ckpt["network"]["problems"])}) != net.config:
                raise ProblemError(f"the checkpoint of run {resumed_from} has another network; resume with its settings")
            net.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            elites.add([Candidate(x.numpy(), float(v)) for x, v in zip(ckpt["elites"], ckpt["values"])])
            progress.round, progress.evaluations = int(ckpt["round"]), int(ckpt["evaluations"])
            # improvements after the last checkpoint are in the run's row
            row = store.run(resumed_from)
            if row is not None and row.config:
                x = problem.from_config(problem.check_shapes(row.config))
                verdict = problem.verify(problem.to_config(x))
                if verdict.feasible:
                    elites.add([Candidate(x, verdict.value)])
        else:
            initial, resumed_from = resume_points(problem, store, out)

    rec = RunRecorder(problem, out, store, seed=seed, stop_at=stop_at, command="boost", resumed_from=resumed_from,
                      settings={**settings.as_dict(), "mode": mode, "seconds": seconds}, document={"mode": mode})
    deadline = time.time() + seconds
    reached = rec.reached

    def tell() -> None:
        progress.elapsed = rec.elapsed
        progress.best = rec.value
        rec.progress(progress.round, progress.evaluations)
        if on_progress:
            on_progress(progress)

    def keep(cands: list[Candidate]) -> None:
        elites.add(cands)
        rec.progress(progress.round, progress.evaluations)
        for cand in cands:
            if rec.offer(cand.x, cand.value):
                tell()

    # one local search for the whole run: its elites and adapted kick strength carry over the rounds
    search = LocalSearch(problem, search_settings, seed=worker_seed(seed, 0))
    polisher = LocalSearch(problem, replace(search_settings, polish_top=settings.polish_top), seed=worker_seed(seed, 1))
    counted = {"search": 0, "polisher": 0}

    def count() -> None:
        for name, worker in (("search", search), ("polisher", polisher)):
            progress.evaluations += worker.state.evaluations - counted[name]
            counted[name] = worker.state.evaluations

    def local(budget: float) -> None:
        def improved(cand: Candidate, state) -> None:
            count()
            keep([cand])

        state = search.run(0.0, on_improvement=improved, should_stop=reached,
                           deadline=min(deadline, time.time() + budget))
        count()
        keep(state.elites)

    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    with rec.running():
        try:
            keep(list(elites.items))
            for x in initial + [e.x for e in elites.items]:
                search.offer(x)
            if not elites.items:
                progress.phase = "warm-up"
                local(settings.warmup * seconds)
            if not elites.items:
                raise ProblemError(f"{problem.label}: the warm-up found no feasible configuration; give more --time")
            targets = torch.as_tensor(np.stack([e.x for e in elites.items]))
            if progress.round == 0:
                progress.phase = "pre-training"
                tell()
                fit(net, view, view.objects(targets).float(), optimizer, gen, settings.pretrain_steps,
                    settings.train_batch, deadline=deadline)
            while time.time() < deadline and not reached():
                progress.round += 1
                progress.phase = "sampling"
                s = sample(net, view, settings.samples, gen, settings.ode_steps, settings.method, settings.noise,
                           settings.prox_steps)
                progress.evaluations += len(s.values)
                progress.diversity = mean_pairwise_distance(s.objects, view.square)
                keep([Candidate(x, float(v)) for x, v in zip(s.x, s.values)])
                progress.phase = "polishing"
                polisher.deadline = deadline
                # samples are relaxed like kicked elites (penalty weight x kick_mu) so their structure survives
                polished = polisher.polish(polisher.relax(torch.as_tensor(s.x), n_fresh=0), n_fresh=0)
                count()
                keep(polished)
                for cand in polished:
                    search.offer(cand.x)
                local(settings.local_seconds)
                progress.phase = "training"
                if mode == "closed":
                    pool = [Candidate(x, float(v)) for x, v in zip(s.x, s.values)] + polished + elites.items
                    xs = np.stack([c.x for c in pool])
                    vals = np.array([c.value for c in pool])
                    fit(net, view, view.objects(torch.as_tensor(xs)).float(), optimizer, gen, settings.train_steps,
                        settings.train_batch, weights=rank_weights(vals, problem.sense, settings.temperature),
                        trust=settings.trust, deadline=deadline)
                else:
                    xs = np.stack([e.x for e in elites.items])
                    fit(net, view, view.objects(torch.as_tensor(xs)).float(), optimizer, gen, settings.train_steps,
                        settings.train_batch, deadline=deadline)
                if store is not None:
                    store.save_checkpoint(rec.run_id, CHECKPOINT, _pack(net, optimizer, elites, progress.round,
                                                                     progress.evaluations, mode))
                tell()
        finally:
            torch.set_num_threads(threads)
    return rec.result(mode=mode, diversity=progress.diversity)
