"""Batched matrix functions that keep every CPU core busy.

On the CPU, ``torch.linalg.eigh`` of a ``(B, n, n)`` batch calls LAPACK's
``syevd`` once per matrix, one after the other.  For small ``n`` LAPACK's own
threads find nothing to share, so with ``k`` intra-op threads ``k - 1`` cores
stay idle: 256 eigendecompositions of size 32 take as long on 2 threads as on
1.  `map_batch` cuts a large CPU batch into ``k`` contiguous chunks and
runs a matrix-by-matrix function on them concurrently, on a pool of ``k``
threads that each run LAPACK single-threaded (a worker sets its own OpenMP
thread count to 1 with ``omp_set_num_threads``, which acts on the calling
thread only; ``torch.set_num_threads`` would also switch MKL's dynamic
threading off for the whole process).  The split, the function and the
concatenation all run in the workers.  Results, autograd graphs and errors are
those of the plain call on the whole batch; other devices, small batches,
builds without torch's OpenMP runtime at hand and calls from inside a worker
take the plain call.  `eigh`, `eigvalsh` and the `per_matrix`
method decorator are built on it.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch
from torch import Tensor

__all__ = ["eigh", "eigvalsh", "map_batch", "per_matrix"]

_MIN_WORK = 16 * 32**3
"""Below ``sum_b n^3`` of this order a thread hand-off costs more than it saves."""

_CHUNKS_PER_WORKER = 4
"""Several chunks per worker, handed out in turn: a worker slowed down by another
thread on its core (e.g. the caller's OpenMP threads, which spin for a while after
each parallel region) leaves its share to the others."""

_lock = threading.Lock()
_local = threading.local()
_pools: dict[int, ThreadPoolExecutor] = {}
_openmp: ctypes.CDLL | None | bool = False


def _forget_pool() -> None:
    """In a forked child the parent's worker threads do not exist: start afresh."""
    global _lock, _pools
    _lock, _pools = threading.Lock(), {}


os.register_at_fork(after_in_child=_forget_pool)


def _openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP runtime torch was loaded with (shipped in ``torch/lib``), or None."""
    global _openmp
    if _openmp is False:
        _openmp = None
        if "parallel backend: OpenMP" in torch.__config__.parallel_info():
            libdir = Path(torch.__file__).parent / "lib"
            for path in sorted(p for pat in ("libgomp*", "libiomp5*", "libomp*") for p in libdir.glob(pat)):
                try:
                    lib = ctypes.CDLL(str(path))
                except OSError:
                    continue
                if hasattr(lib, "omp_set_num_threads"):
                    _openmp = lib
                    break
    return _openmp


def _worker_init() -> None:
    _local.in_worker = True
    _openmp_runtime().omp_set_num_threads(1)


def _get_pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of ``threads`` workers (one per thread count ever asked for)."""
    with _lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="extremo-linalg", initializer=_worker_init)
        return _pools[threads]


def _workers(mats: tuple[Tensor, ...]) -> tuple[int, torch.Size | None]:
    """``(workers, batch shape)`` to share the matrices' batch among (1 worker: no split).

    Cheap tests first: most calls are small and must not pay for the split.
    """
    x = mats[0]
    threads = torch.get_num_threads()
    if x.device.type != "cpu" or threads < 2 or getattr(_local, "in_worker", False) or x.dim() < 2:
        return 1, None
    if x.numel() * x.shape[-1] < _MIN_WORK and all(m.shape[:-2] == x.shape[:-2] for m in mats[1:]):
        return 1, None
    if min(m.dim() for m in mats) < 2 or _openmp_runtime() is None:
        return 1, None
    try:
        shape = torch.broadcast_shapes(*(m.shape[:-2] for m in mats))
    except RuntimeError:
        return 1, None  # let the function report what is wrong with its arguments
    batch = math.prod(shape)
    if batch < 2 or batch * x.shape[-1] ** 3 < _MIN_WORK:
        return 1, None
    return threads, shape


def map_batch(fn: Callable[..., Tensor | tuple[Tensor, ...]], *mats: Tensor) -> Tensor | tuple[Tensor, ...]:
    """``fn(*mats)`` for a function that acts matrix by matrix, over all CPU cores.

    ``mats`` are ``(..., n, m)`` tensors with broadcastable batch dimensions;
    ``fn`` must treat each batch entry independently and return tensors whose
    leading dimension is the (flattened) batch; a tensor or a tuple of them,
    returned as ``fn`` returns it.  The batch is cut into a few chunks per
    intra-op thread, ``fn`` runs on them concurrently in a pool with one worker
    per thread, and the results are concatenated and given the batch shape
    back.  The concatenation runs in a worker too, so that the caller's OpenMP
    threads stay asleep.  Grad and inference mode are the caller's.
    """
    k, batch_shape = _workers(mats)
    if k == 1:
        return fn(*mats)
    batch = math.prod(batch_shape)
    flat = [m.expand(*batch_shape, *m.shape[-2:]).reshape(-1, *m.shape[-2:]) for m in mats]
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def modes():
        return torch.inference_mode() if inference else torch.set_grad_enabled(grad)

    single = False

    def run(*chunk: Tensor) -> tuple[Tensor, ...]:
        nonlocal single
        with modes():
            out = fn(*chunk)
        single = isinstance(out, Tensor)
        return (out,) if single else tuple(out)

    def gather(parts: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
        with modes():
            return tuple(torch.cat(p).reshape(*batch_shape, *p[0].shape[1:]) for p in zip(*parts))

    pool = _get_pool(k)
    chunks = min(batch, _CHUNKS_PER_WORKER * k)
    futures = [pool.submit(run, *chunk) for chunk in zip(*(f.tensor_split(chunks) for f in flat))]
    parts = [f.result() for f in futures]
    out = pool.submit(gather, parts).result()
    return out[0] if single else out


def per_matrix(method: Callable) -> Callable:
    """Decorate a method acting matrix by matrix on its tensor arguments to run it with `map_batch`.

    Every tensor argument, positional or keyword, is split along the batch;
    the others are passed unchanged.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        names = [k for k, v in kwargs.items() if isinstance(v, Tensor)]

        def call(*mats: Tensor):
            a, kw = list(args), dict(kwargs)
            for i, m in zip(pos, mats):
                a[i] = m
            kw.update(zip(names, mats[len(pos):]))
            return method(self, *a, **kw)

        return map_batch(call, *(args[i] for i in pos), *(kwargs[k] for k in names))

    return wrapper


def eigh(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(w, U)`` with ``X = U diag(w) U^T``, ``w`` ascending: ``torch.linalg.eigh`` over all cores."""
    return map_batch(torch.linalg.eigh, x)


def eigvalsh(x: Tensor) -> Tensor:
    """Ascending eigenvalues of symmetric ``(..., n, n)`` matrices: ``torch.linalg.eigvalsh`` over all cores."""
    return map_batch(torch.linalg.eigvalsh, x)
