"""map_batch: the split over CPU threads gives the plain call's values, gradients and errors."""

import multiprocessing as mp
import threading

import pytest
import torch

import extremo.linalg.parallel as parallel
from extremo.linalg import eigh, eigvalsh, map_batch, sym_logm
from extremo.manifolds import SPD

pytestmark = pytest.mark.skipif(parallel._openmp_runtime() is None, reason="torch was not built with OpenMP")

N, BATCH = 32, 40  # BATCH * N^3 is above the work threshold


@pytest.fixture
def three_threads(monkeypatch):
    """Ask for three intra-op threads (more than this machine may have: the split must not care)."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)


def spd(batch=BATCH, n=N, seed=0, dtype=torch.float64):
    return SPD(n).random(batch, generator=torch.Generator().manual_seed(seed)).to(dtype)


def recording(fn, calls):
    def wrapped(*mats):
        calls.append((threading.current_thread().name, mats[0].shape[0]))
        return fn(*mats)

    return wrapped


def test_batch_is_split_over_workers_and_matches_the_plain_call(three_threads):
    x = spd()
    calls = []
    w, u = map_batch(recording(torch.linalg.eigh, calls), x)
    sizes = [size for _, size in calls]
    assert sum(sizes) == BATCH and len(sizes) == 3 * parallel._CHUNKS_PER_WORKER and max(sizes) - min(sizes) <= 1
    assert all(name.startswith("extremo-linalg") for name, _ in calls)
    w0 = torch.linalg.eigvalsh(x)
    torch.testing.assert_close(w, w0)
    torch.testing.assert_close((u * w[..., None, :]) @ u.mT, x)
    torch.testing.assert_close(eigvalsh(x), w0)
    torch.testing.assert_close(eigh(x)[0], w0)


def test_small_batches_and_other_calls_are_not_split(three_threads):
    calls = []
    map_batch(recording(torch.linalg.eigvalsh, calls), spd(batch=4))
    map_batch(recording(torch.linalg.eigvalsh, calls), spd(batch=BATCH, n=4))
    assert [size for _, size in calls] == [4, BATCH]
    assert all(name == threading.current_thread().name for name, _ in calls)


def test_batch_shapes_broadcast_and_come_back(three_threads):
    x = spd().reshape(4, 10, N, N)
    y = spd(batch=1, seed=1)[0]
    out = map_batch(lambda a, b: (a @ b).diagonal(dim1=-2, dim2=-1).sum(-1), x, y)
    assert out.shape == (4, 10)
    torch.testing.assert_close(out, (x @ y).diagonal(dim1=-2, dim2=-1).sum(-1))


def test_gradients_match_the_plain_call(three_threads, monkeypatch):
    x = spd().requires_grad_(True)
    g = torch.randn(BATCH, N, N, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    (grad_split,) = torch.autograd.grad((sym_logm(x) * g).sum(), x)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    (grad_plain,) = torch.autograd.grad((sym_logm(x) * g).sum(), x)
    torch.testing.assert_close(grad_split, grad_plain)


def test_grad_and_inference_mode_of_the_caller_are_kept(three_threads):
    x = spd().requires_grad_(True)
    with torch.no_grad():
        assert not sym_logm(x).requires_grad
    assert sym_logm(x).requires_grad
    with torch.inference_mode():
        assert sym_logm(spd()).is_inference()


def test_errors_in_a_worker_reach_the_caller(three_threads):
    def fail(a):
        raise ValueError("bad chunk")

    with pytest.raises(ValueError, match="bad chunk"):
        map_batch(fail, spd())


def test_bad_shapes_are_left_to_the_function(three_threads):
    with pytest.raises(RuntimeError, match="must be batches of square matrices"):
        map_batch(torch.linalg.eigh, torch.ones(BATCH, N, N + 1))
    with pytest.raises(ValueError, match="expected square"):
        sym_logm(torch.ones(3))


def test_per_matrix_methods_split_keyword_tensors(three_threads):
    man = SPD(N, metric="log_euclidean")
    x, y = spd(), spd(seed=1)
    u = man.logmap(x, y)
    assert man.inner(x, u, v=u, keepdim=True).shape == (BATCH, 1, 1)
    torch.testing.assert_close(man.inner(x, u, v=u), man.dist(x, y) ** 2)


def test_worker_thread_count_does_not_leak_to_the_caller(three_threads):
    before = torch.__config__.parallel_info()  # torch, OpenMP and MKL thread counts of this thread
    calls = []
    map_batch(recording(torch.linalg.eigvalsh, calls), spd())
    assert len(calls) > 1
    assert torch.__config__.parallel_info() == before


def _child(x, queue):
    queue.put(eigvalsh(x).tolist())


def test_a_forked_child_builds_its_own_pool(three_threads):
    """The parent's workers do not exist in a forked child; its first split must start new ones.

    (The child only calls ``eigvalsh``: GNU OpenMP itself cannot be used again by a
    child forked after the parent used it, whatever extremo does.)
    """
    x = spd()
    for _ in range(5):  # leave idle workers behind, which a child's pool would wait for forever
        expected = eigvalsh(x).tolist()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(x, queue))
    proc.start()
    got = queue.get(timeout=120)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert got == expected
