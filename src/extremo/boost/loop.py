"""The learned closed loop (FlowBoost, Berczi, Hashemi and Klüver 2026, arXiv 2601.18005).

::

    start:   (optional) pre-train the generator on the stored bests of neighbouring instances
    round k: the run's one local search, ``local_seconds`` of its rounds; each round's fresh starts
             are shared by a bandit between random starts and generator samples (ODE + projection
             + repair, feasible) by their rate of entering the elites; kicks of the elites as usual
             train (once there are ``min_elites`` elites or neighbour data), at most ``train_share``
             of the round's time, scaled down while the generator's rate trails the random starts':
               closed, finetune="rwr":    flow matching on the elites with rank weights and a
                                          trust region to v_ref (+ the neighbours' bests)
               closed, finetune="policy": rollouts of the noisy sampler, relaxed; reward the relaxed
                                          objective; GRPO policy step with a KL trust region
                                          (`extremo.boost.policy`); the best rollouts polished
               open:                      flow matching on the elites, equal weights (PatternBoost)
             checkpoint (model, optimizer, elites, best, round) in the run store

A generator that does not help keeps only the bandit's floor share of the fresh starts and a
reduced training time, so the loop costs little where it does not pay.

Like `extremo.discover.discover`, the run is recorded by a `RunRecorder`:
every improvement is re-verified, recorded in the store and written atomically to
``<out>/<slug>.json`` if it beats the file at that moment, so Ctrl-C or a kill keeps the best
configuration; ``resume=True`` continues the latest boost run of the instance from its checkpoint
(round counter, model, elites and best carried over). ``workers=K`` runs K independent loops, one
process each (`extremo.search.parallel.run_processes`); the parent verifies and records their
improvements in the one run and stores each worker's checkpoint.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from extremo.boost.network import NetworkConfig, VelocityNet
from extremo.boost.policy import advantages, policy_loss, rollout
from extremo.boost.sampling import project_objects, repair_all, sample
from extremo.boost.symmetry import mean_pairwise_distance
from extremo.boost.training import fit_across, frozen_copy, rank_weights
from extremo.boost.transfer import transfer_groups
from extremo.boost.views import ObjectView, view_of
from extremo.flows import METHODS
from extremo.problems import Problem, ProblemError
from extremo.recorder import RunRecorder, RunResult, resume_points
from extremo.search.arguments import (check_choice, check_seconds, check_seed, check_target, check_workers,
                                      worker_seed)
from extremo.search.local import Candidate, LocalSearch, SearchSettings
from extremo.search.parallel import Progress, run_processes, worker_messages
from extremo.store import Store

MODES = ("closed", "open")
FINETUNES = ("rwr", "policy")
CHECKPOINT = "boost"


@dataclass
class BoostSettings:
    """Knobs of the loop (defaults: tens of objects, a 2-core machine, minutes)."""

    #: rollouts per policy step
    samples: int = 32
    ode_steps: int = 10
    method: str = "euler"
    noise: float = 0.05
    prox_steps: int = 0
    #: polished rollouts per policy step
    polish_top: int = 4
    #: local-search time per round
    local_seconds: float = 4.0
    #: training time per round, at most this fraction of ``local_seconds``
    train_share: float = 0.25
    #: closed-loop fine-tuning: reward-weighted regression ("rwr") or policy optimisation ("policy")
    finetune: str = "rwr"
    #: pre-train on the stored bests of instances n - transfer .. n + transfer (0: this instance only)
    transfer: int = 0
    #: the generator is trained (and sampled) once the run has this many elites
    min_elites: int = 4
    elites: int = 32
    train_steps: int = 40
    pretrain_steps: int = 150
    policy_epochs: int = 4
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
        if self.finetune not in FINETUNES:
            raise ProblemError(f"--finetune must be one of {', '.join(FINETUNES)}, got {self.finetune!r}")
        for name in ("samples", "ode_steps", "elites", "train_batch", "width", "layers", "threads", "min_elites",
                     "policy_epochs"):
            if getattr(self, name) < 1:
                raise ProblemError(f"boost setting {name} must be at least 1, got {getattr(self, name)}")
        if self.transfer < 0:
            raise ProblemError(f"--transfer is a radius in instance sizes, at least 0, got {self.transfer}")
        if not 0 < self.train_share <= 1:
            raise ProblemError(f"boost setting train_share is a fraction in (0, 1], got {self.train_share}")
        if not self.local_seconds > 0:
            raise ProblemError(f"boost setting local_seconds must be positive, got {self.local_seconds}")
        if self.finetune == "policy" and not self.noise > 0:
            raise ProblemError("--finetune policy explores with the sampler's noise: give --noise > 0")


@dataclass
class BoostProgress:
    round: int = 0
    best: float = math.nan
    diversity: float = math.nan
    evaluations: int = 0
    elapsed: float = 0.0
    phase: str = "search"
    #: share of the last round's fresh starts given to the generator
    generator_share: float = 0.0


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


def checkpoint_name(worker: int) -> str:
    """Name of worker ``worker``'s checkpoint in the run store (worker 0's is a one-process run's)."""
    return CHECKPOINT if worker == 0 else f"{CHECKPOINT}-{worker}"


def _load(data: bytes) -> dict:
    return torch.load(io.BytesIO(data), weights_only=True)


def find_checkpoints(store: Store, problem: Problem) -> tuple[int, list[bytes]] | None:
    """The latest boost run of the instance that left a checkpoint, and its workers' checkpoints
    (serialised, in the order of the workers that left one)."""
    for row in store.runs(label=problem.label, limit=200):
        if row.command != "boost":
            continue
        names = [checkpoint_name(w) for w in range(int(row.settings.get("workers", 1)))]
        found = [data for data in (store.load_checkpoint(row.id, name) for name in names) if data is not None]
        if found:
            return row.id, found
    return None


def find_checkpoint(store: Store, problem: Problem) -> tuple[int, dict] | None:
    """The latest boost run of the instance that left a checkpoint, and its (first worker's) checkpoint."""
    found = find_checkpoints(store, problem)
    return None if found is None else (found[0], _load(found[1][0]))


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


def network_config(view: ObjectView, settings: BoostSettings) -> NetworkConfig:
    return NetworkConfig(view.features, (view.problem.name,), square=view.square, width=settings.width,
                         layers=settings.layers)


def make_network(view: ObjectView, settings: BoostSettings) -> VelocityNet:
    return VelocityNet(network_config(view, settings))


def check_arguments(seconds: float, mode: str, seed: int, stop_at: float | None,
                    settings: BoostSettings | None = None, workers: int | None = 1) -> tuple[int, str]:
    """Validate the arguments of `boost` (`ParameterError`
    naming the parameter); the number of workers to start and a note if it was capped."""
    check_seconds(seconds)
    check_choice("mode", mode, MODES)
    check_seed(seed)
    check_target(stop_at)
    (settings or BoostSettings()).check()
    return check_workers(workers)


def _loop(problem: Problem, mode: str, seed: int, settings: BoostSettings, deadline: float, *,
          checkpoint: dict | None, extra: list[Candidate], initial: list[np.ndarray], groups: list,
          offer: Callable[[Candidate, BoostProgress], bool], report: Callable[[BoostProgress], None],
          save: Callable[[bytes], None] | None, should_stop: Callable[[], bool],
          one_round: bool = False) -> BoostProgress:
    """One learned loop (the module docstring) until ``deadline`` or ``should_stop()``.

    ``checkpoint`` (a `_pack` loaded) resumes it; ``extra`` join its elites and ``initial`` its
    starts; ``offer(candidate, progress)`` records a candidate (True if it improved the best);
    ``report(progress)`` is called after the pre-training, every round and every improvement;
    ``save(data)`` keeps the checkpoint of every round. ``one_round``: run at least one round
    (cut short at the deadline), so that a worker that starts late still delivers its round.
    """
    view = view_of(problem)
    search_settings = SearchSettings(**problem.search_defaults)
    gen = torch.Generator().manual_seed(seed)
    net = make_network(view, settings)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    elites = _Elites(problem, settings.elites)
    progress = BoostProgress()
    if checkpoint is not None:
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        elites.add([Candidate(x.numpy(), float(v)) for x, v in zip(checkpoint["elites"], checkpoint["values"])])
        progress.round, progress.evaluations = int(checkpoint["round"]), int(checkpoint["evaluations"])
    elites.add(extra)

    def tell() -> None:
        report(progress)

    def keep(cands: list[Candidate]) -> None:
        elites.add(cands)
        for cand in cands:
            if offer(cand, progress):
                tell()

    # one local search for the whole run: its elites and adapted kick strength carry over the rounds
    search = LocalSearch(problem, search_settings, seed=worker_seed(seed, 0))
    polisher = LocalSearch(problem, replace(search_settings, polish_top=settings.polish_top), seed=worker_seed(seed, 1))
    counted = {"search": 0, "polisher": 0}
    pid = net.problem_index(problem.name)

    def velocity(x, t):
        return net(x, t, pid)

    def count() -> None:
        for name, worker in (("search", search), ("polisher", polisher)):
            progress.evaluations += worker.state.evaluations - counted[name]
            counted[name] = worker.state.evaluations

    def propose(k: int, generator: torch.Generator) -> torch.Tensor:
        """``k`` feasible generator samples: a source of fresh starts for the local search."""
        s = sample(net, view, k, generator, settings.ode_steps, settings.method, settings.noise, settings.prox_steps)
        progress.evaluations += k
        progress.diversity = mean_pairwise_distance(s.objects, view.square)
        return torch.as_tensor(s.x)

    def local(budget: float) -> None:
        def improved(cand: Candidate, state) -> None:
            count()
            keep([cand])

        def share(state) -> None:
            bandit = search.bandit
            if bandit is not None:
                rates = bandit.rates()
                progress.generator_share = rates["generator"] / sum(rates.values())

        state = search.run(0.0, on_improvement=improved, should_stop=should_stop, on_round=share,
                           deadline=min(deadline, time.time() + budget))
        count()
        keep(state.elites)

    def own_targets() -> tuple[torch.Tensor, np.ndarray]:
        xs = np.stack([e.x for e in elites.items])
        return view.objects(torch.as_tensor(xs)).float(), np.array([e.value for e in elites.items])

    def policy_step(until: float) -> None:
        """Rollouts, relaxed and scored by the relaxed objective; the best polished; a GRPO step."""
        reference = frozen_copy(net)
        traj = rollout(velocity, view.source(settings.samples, gen), settings.ode_steps, settings.noise, gen,
                       manifold=view.manifold, project=lambda x: project_objects(view, x))
        xs, _ = repair_all(view, view.vectors(traj.end.double()))
        polisher.deadline = until
        relaxed = polisher.relax(torch.as_tensor(xs), n_fresh=0)
        with torch.no_grad():
            loss = problem.relaxed(relaxed, search_settings.mu[-1] * search_settings.kick_mu)
        polished = polisher.polish(relaxed, n_fresh=0)
        count()
        keep(polished)
        for cand in polished:
            search.offer(cand.x)
        adv = advantages(-loss.numpy(), "max")
        for _ in range(settings.policy_epochs):
            if time.time() >= until:
                break
            step_loss = policy_loss(velocity, traj, adv, reference=lambda x, t: reference(x, t, pid),
                                    kl=settings.trust, manifold=view.manifold)
            optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            optimizer.step()

    def train(steps: int) -> None:
        bandit = search.bandit
        scale = 1.0
        if bandit is not None:
            rates = bandit.rates()
            scale = max(0.2, min(1.0, rates["generator"] / max(rates["random"], 1e-12)))
        until = min(deadline, time.time() + settings.train_share * settings.local_seconds * scale)
        own = []
        if elites.items:
            objs, values = own_targets()
            closed_rwr = mode == "closed" and settings.finetune == "rwr"
            own = [(view, objs, rank_weights(values, problem.sense, settings.temperature) if closed_rwr else None)]
        if mode == "closed" and settings.finetune == "policy" and "generator" in search.sources:
            policy_step(until)
        else:
            trust = settings.trust if mode == "closed" and "generator" in search.sources else 0.0
            fit_across(net, own + groups, optimizer, gen, steps, settings.train_batch, trust=trust, deadline=until)
        search.sources["generator"] = propose

    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        keep(list(elites.items))
        for x in initial + [e.x for e in elites.items]:
            search.offer(x)
        if progress.round > 0:
            search.sources["generator"] = propose
        elif groups:
            progress.phase = "pre-training"
            tell()
            train(settings.pretrain_steps)
        first = progress.round + 1
        while (time.time() < deadline or (one_round and progress.round < first)) and not should_stop():
            progress.round += 1
            progress.phase = "search"
            local(settings.local_seconds)
            if time.time() < deadline and (len(elites.items) >= settings.min_elites or groups):
                progress.phase = "training"
                train(settings.train_steps if "generator" in search.sources else settings.pretrain_steps)
            if save is not None:
                save(_pack(net, optimizer, elites, progress.round, progress.evaluations, mode))
            tell()
    finally:
        torch.set_num_threads(threads)
    return progress


def _worker(wid: int, name: str, instance: dict, mode: str, seed: int, settings: BoostSettings, deadline: float,
            checkpoint: bytes | None, extra: list[Candidate], initial: list[np.ndarray], groups: list,
            out, stop) -> None:
    """Worker ``wid`` of a parallel run, in the protocol of `extremo.search.parallel.run_processes`:
    one loop; its improvements go to the parent, its phase, diversity and checkpoints as payloads."""
    from extremo.problems import make

    parent = os.getppid()
    problem = make(name, **instance)
    groups = [(view_of(make(n, **inst)), objs, None) for n, inst, objs in groups]
    ckpt = _load(checkpoint) if checkpoint is not None else None
    last = [int(ckpt["round"]), int(ckpt["evaluations"])] if ckpt is not None else [0, 0]
    best = [math.nan]

    def report(progress: BoostProgress, data: bytes | None = None) -> None:
        out.put(("progress", wid, progress.round - last[0], progress.evaluations - last[1],
                 {"phase": progress.phase, "diversity": progress.diversity,
                  "generator_share": progress.generator_share, "checkpoint": data}))
        last[:] = [progress.round, progress.evaluations]

    def offer(cand: Candidate, progress: BoostProgress) -> bool:
        if not problem.better(cand.value, best[0]):
            return False
        best[0] = cand.value
        report(progress)
        out.put(("improve", wid, cand.value, cand.x, None))
        return True

    def save(data: bytes) -> None:
        out.put(("progress", wid, 0, 0, {"checkpoint": data}))

    with worker_messages(wid, out, stop, parent) as should_stop:
        _loop(problem, mode, seed, settings, deadline, checkpoint=ckpt, extra=extra, initial=initial, groups=groups,
              offer=offer, report=report, save=save, should_stop=should_stop, one_round=True)


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
    workers: int | None = 1,
) -> RunResult:
    """Run the learned loop on ``problem`` for ``seconds`` (see the module docstring).

    ``mode``: ``"closed"`` (reward-guided fine-tuning) or ``"open"`` (retrain on elites).
    ``workers``: independent loops, one process each (``None``: one per core, capped at the cores);
    ``1`` runs in this process. Worker ``w`` of a parallel run is the one-process loop with seed
    `worker_seed` ``(seed, w)``; the parent verifies and records every improvement, the workers'
    checkpoints are stored per worker, and a resumed run's worker ``w`` continues checkpoint
    ``w mod k`` of the ``k`` left.
    ``on_progress(progress)`` is called after the pre-training, every round and every improvement
    (with several workers: rounds and evaluations summed over them, the mean diversity).
    """
    settings = settings or BoostSettings()
    workers, note = check_arguments(seconds, mode, seed, stop_at, settings, workers)
    config = network_config(view_of(problem), settings)
    resumed_from, checkpoints, extra, initial = None, [], [], []
    if resume:
        found = find_checkpoints(store, problem) if store is not None else None
        if found is not None:
            resumed_from, checkpoints = found
            for ckpt in map(_load, checkpoints):
                if NetworkConfig(**{**ckpt["network"], "problems": tuple(ckpt["network"]["problems"])}) != config:
                    raise ProblemError(f"the checkpoint of run {resumed_from} has another network; "
                                       "resume with its settings")
            # improvements after the last checkpoint are in the run's row
            row = store.run(resumed_from)
            if row is not None and row.config:
                x = problem.from_config(problem.check_shapes(row.config))
                verdict = problem.verify(problem.to_config(x))
                if verdict.feasible:
                    extra.append(Candidate(x, verdict.value))
        else:
            initial, resumed_from = resume_points(problem, store, out)

    rec = RunRecorder(problem, out, store, seed=seed, stop_at=stop_at, command="boost", resumed_from=resumed_from,
                      settings={**settings.as_dict(), "mode": mode, "seconds": seconds, "workers": workers},
                      document={"mode": mode})
    if note:
        rec.notes.append(note)
    deadline = time.time() + seconds
    groups = transfer_groups(problem, store, settings.transfer) if settings.transfer and store is not None else []
    if workers == 1:
        def report(progress: BoostProgress) -> None:
            progress.elapsed, progress.best = rec.elapsed, rec.value
            rec.progress(progress.round, progress.evaluations)
            if on_progress:
                on_progress(progress)

        def offer(cand: Candidate, progress: BoostProgress) -> bool:
            rec.progress(progress.round, progress.evaluations)
            return rec.offer(cand.x, cand.value)

        def save(data: bytes) -> None:
            store.save_checkpoint(rec.run_id, CHECKPOINT, data)

        with rec.running():
            progress = _loop(problem, mode, seed, settings, deadline,
                             checkpoint=_load(checkpoints[0]) if checkpoints else None, extra=extra,
                             initial=initial, groups=groups, offer=offer, report=report,
                             save=save if store is not None else None, should_stop=rec.reached)
        return rec.result(mode=mode, diversity=progress.diversity)
    return _parallel(problem, mode, seed, settings, deadline, workers, rec, checkpoints, extra, initial, groups,
                     on_progress)


def _parallel(problem: Problem, mode: str, seed: int, settings: BoostSettings, deadline: float, workers: int,
              rec: RunRecorder, checkpoints: list[bytes], extra: list[Candidate], initial: list[np.ndarray],
              groups: list, on_progress: Callable[[BoostProgress], None] | None) -> RunResult:
    """``workers`` loops in their own processes (`run_processes`), recorded by ``rec`` here."""
    shipped = [(view.problem.name, view.problem.instance, objs) for view, objs, _ in groups]
    args = [(problem.name, problem.instance, mode, worker_seed(seed, w), settings, deadline,
             checkpoints[w % len(checkpoints)] if checkpoints else None, extra, initial, shipped)
            for w in range(workers)]
    counts = [_load(data) for data in checkpoints]
    base = (sum(int(c["round"]) for c in counts), sum(int(c["evaluations"]) for c in counts))
    progress = BoostProgress(round=base[0], evaluations=base[1])
    states: dict[int, dict] = {}

    def count(p: Progress) -> None:
        progress.round, progress.evaluations = base[0] + p.rounds, base[1] + p.evaluations
        rec.progress(progress.round, progress.evaluations)

    def tick(p: Progress) -> None:
        count(p)
        progress.elapsed, progress.best = rec.elapsed, rec.value
        if on_progress:
            on_progress(progress)

    def keep(cand: Candidate, p: Progress) -> None:
        count(p)
        if rec.offer(cand.x, cand.value):
            tick(p)

    def payload(w: int, data: dict) -> None:
        blob = data.pop("checkpoint", None)
        if blob is not None and rec.store is not None:
            rec.store.save_checkpoint(rec.run_id, checkpoint_name(w), blob)
        if data:
            states[w] = data
            progress.phase = states[min(states)]["phase"]
            for name in ("diversity", "generator_share"):
                seen = [s[name] for s in states.values() if not math.isnan(s[name])]
                setattr(progress, name, float(np.mean(seen)) if seen else math.nan)

    with rec.running():
        run_processes(_worker, args, deadline, keep, tick, rec.reached, payload)
    return rec.result(mode=mode, diversity=progress.diversity)
