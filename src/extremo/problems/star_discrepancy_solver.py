"""The permutation solver of the plane star discrepancy problem (``star-discrepancy``, ``d = 2``).

Clement, Doerr, Klamroth and Paquete ("Constructing optimal L-infinity star discrepancy sets",
arXiv 2311.17463; Proc. AMS Ser. B 2024): while the order of the points along both axes stays
fixed, every box count is a constant and every local discrepancy a product ``x_(i) y_(j)``, so a
point set is a permutation ``sigma`` plus the sorted coordinates. The problem of one permutation
is solved exactly and globally (`plane_permutation_optimum`: in logarithms every
constraint is a difference constraint, so a level ``t`` is feasible iff a graph on ``2N + 1``
nodes has no negative cycle, Bellman-Ford), locally by SLSQP (`plane_permutation_nlp`, an
independent check), and the permutations are walked by late acceptance with a neighbourhood
descent (`plane_permutation_search`).
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import torch

from extremo.problems.discrepancy import star_discrepancy_batch

#: minimal gap kept between neighbours along an axis in the polish (the orders stay strict)
ORDER_GAP = 1e-9

#: relative separation of neighbouring coordinates in the exact solver: x_(i+1) >= x_(i) e^eps
_LOG_GAP = 1e-9


def plane_counts(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open and closed counts ``(..., N + 1, N + 1)`` of the point sets whose point of x-rank
    ``k`` has y-rank ``sigma[..., k]`` (all coordinates distinct): box ``(i, j)`` is cornered at
    ``(x_(i), y_(j))`` (``x_(N) = y_(N) = 1``); open ``#{k < i, sigma_k < j}``, closed
    ``#{k <= i, sigma_k <= j}``, from cumulative sums of the permutation matrices."""
    sigma = np.asarray(sigma)
    n = sigma.shape[-1]
    cum = (sigma[..., :, None] == np.arange(n)).astype(np.float64).cumsum(-2).cumsum(-1)
    last = np.minimum(np.arange(n + 1), n - 1)
    opened = np.zeros(sigma.shape[:-1] + (n + 1, n + 1))
    opened[..., 1:, 1:] = cum
    return opened, cum[..., last, :][..., last]


def plane_constraint_graph(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The difference-constraint graph of the permutation-fixed problem (see
    `plane_permutation_optimum`) of every permutation in ``sigma`` ``(B, N)``.

    Nodes ``0..N-1`` carry ``u_i = log x_(i)``, nodes ``N..2N-1`` carry ``w_j = -log y_(j)``, node
    ``2N`` the constant coordinate 1 (``u_N = w_N = 0``). An edge ``a -> b`` of weight ``c`` is
    the constraint ``pot_b - pot_a <= c``. Returns ``(B, V, V)`` arrays, ``V = 2N + 1``:
    ``over`` (``o_ij / N`` on the edge ``w_j -> u_i`` of weight ``log(t + o_ij / N)``, NaN where
    there is none), ``under`` (``c_ij / N`` on the edge ``u_i -> w_j`` of weight
    ``-log(c_ij / N - t)``) and ``order`` (weight ``-eps`` on ``u_(i+1) -> u_i`` and
    ``w_j -> w_(j+1)``, ``+inf`` elsewhere)."""
    sigma = np.atleast_2d(sigma)
    b, n = sigma.shape
    opened, closed = plane_counts(sigma)
    v = 2 * n + 1
    node_u, node_w = np.append(np.arange(n), 2 * n), np.append(np.arange(n, 2 * n), 2 * n)
    i, j = np.divmod(np.arange((n + 1) ** 2 - 1), n + 1)  # every box but [0, 1]^2
    over = np.full((b, v, v), np.nan)
    under = np.full((b, v, v), np.nan)
    order = np.full((b, v, v), np.inf)
    over[:, node_w[j], node_u[i]] = opened[:, i, j] / n
    under[:, node_u[i], node_w[j]] = closed[:, i, j] / n
    order[:, node_u[1:], node_u[:-1]] = -_LOG_GAP
    order[:, node_w[:-1], node_w[1:]] = -_LOG_GAP
    return over, under, order


def _edge_weights(over: np.ndarray, under: np.ndarray, order: np.ndarray,
                  t: np.ndarray) -> np.ndarray:
    """Edge weights at levels ``t`` (broadcast against the leading dimensions): the tightest of
    ``log(t + o/N)``, ``-log(c/N - t)`` (``+inf`` while ``c/N <= t``: no constraint) and the
    order edges; ``+inf`` where there is no edge."""
    t = np.asarray(t, dtype=np.float64)[..., None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.where(np.isnan(over), np.inf, np.log(t + over))
        room = under - t
        lower = np.where(room > 0, -np.log(np.where(room > 0, room, 1.0)), np.inf)
    return np.minimum(np.minimum(upper, lower), order)


def _bellman_ford(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shortest paths from a virtual source joined to every node by 0-edges, batched over
    ``weights`` ``(B, V, V)`` (Bellman 1958, Ford 1956; Jacobi form, a min-plus product
    ``d_v <- min(d_v, min_a d_a + w_av)`` per pass, ``O(V^2)``; systems leave the batch once a
    pass changes nothing). A system still improving after ``V`` passes holds a negative cycle;
    most show it much earlier as a cycle of negative weight in the predecessor graph (a cycle
    there has weight ``<= 0``: Cherkassky and Goldberg, "Negative-cycle detection algorithms",
    Math. Prog. 1999), looked for every `_CYCLE_CHECK` passes by pointer doubling
    (``O(V log V)``), so an infeasible level costs a few passes, not ``V``. Returns ``feasible
    (B,)``, distances ``(B, V)``, predecessors ``(B, V)`` (-1: none) and, per system, the nodes
    improved in the last pass or on the detected cycle ``(B, V)`` (from either, ``V`` steps
    back along the predecessors land on a negative cycle)."""
    b, v, _ = weights.shape
    dist = np.zeros((b, v))
    pred = np.full((b, v), -1)
    improved = np.zeros((b, v), dtype=bool)
    live = np.arange(b)
    for step in range(v + 1):
        through = dist[live, :, None] + weights[live]
        arg = through.argmin(1)
        best = np.take_along_axis(through, arg[:, None], 1)[:, 0]
        better = best < dist[live]
        improved[live] = better
        pred[live] = np.where(better, arg, pred[live])
        dist[live] = np.where(better, best, dist[live])
        going = better.any(1)
        if step % _CYCLE_CHECK == _CYCLE_CHECK - 1:
            for k, on_cycle in _predecessor_cycles(weights, pred, live[going]):
                improved[k] = on_cycle
                going[np.searchsorted(live, k)] = False
        live = live[going]
        if not len(live):
            break
    return ~improved.any(1), dist, pred, improved


#: Bellman-Ford passes between two looks for a negative cycle in the predecessor graph
_CYCLE_CHECK = 4


def _predecessor_cycles(weights: np.ndarray, pred: np.ndarray, systems: np.ndarray):
    """``(system, nodes on a cycle)`` for every system among ``systems`` whose predecessor
    graph has a cycle of negative total weight (checked on the cycle itself: rounding can leave
    a zero cycle). ``V`` steps back from any node end on a cycle if there is one; pointer
    doubling takes ``log2 V`` gathers."""
    if not len(systems):
        return
    v = pred.shape[1]
    hop = np.where(pred[systems] < 0, v, pred[systems])  # node v: a sink without predecessor
    hop = np.concatenate([hop, np.full((len(systems), 1), v)], 1)
    for _ in range(int(np.ceil(np.log2(v + 1)))):
        hop = np.take_along_axis(hop, hop, 1)
    for k, ends in zip(systems.tolist(), hop[:, :v]):
        start = ends[ends < v]
        if not len(start):
            continue
        cycle, node = [], int(start[0])
        while node not in cycle:
            cycle.append(node)
            node = int(pred[k, node])
        cycle = np.array(cycle[cycle.index(node):])
        if weights[k, pred[k, cycle], cycle].sum() < 0:
            yield k, np.isin(np.arange(v), cycle)


def plane_permutation_feasible(sigma: np.ndarray, t: float | np.ndarray,
                               chunk: int = 256) -> np.ndarray:
    """``(B,)``: whether each permutation in ``sigma`` ``(B, N)`` admits a point set with
    ``D* <= t`` (every local discrepancy at most ``t``; neighbouring coordinates apart by the
    relative gap ``1e-9``): no negative cycle in its constraint graph at level ``t``,
    ``O(N^3)`` each, ``chunk`` at a time."""
    sigma = np.atleast_2d(sigma)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), sigma.shape[:1])
    out = np.empty(len(sigma), dtype=bool)
    for k in range(0, len(sigma), chunk):
        over, under, order = plane_constraint_graph(sigma[k:k + chunk])
        out[k:k + chunk] = _bellman_ford(_edge_weights(over, under, order, t[k:k + chunk]))[0]
    return out


def _negative_cycles(pred: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    """The cycles of the predecessor graph reached from ``starts`` (nodes improved in the last
    Bellman-Ford pass: ``V`` steps back from one lands on a cycle), as node arrays in path order."""
    v, found, seen = len(pred), [], set()
    for node in starts.tolist():
        for _ in range(v):
            node = pred[node] if node >= 0 else -1
        if node < 0 or node in seen:
            continue
        cycle, back = [node], pred[node]
        while back != node and back >= 0 and len(cycle) <= v:
            cycle.append(back)
            back = pred[back]
        if back == node:
            seen.update(cycle)
            found.append(np.array(cycle[::-1]))
    return found


def _cycle_weight(edges: tuple[np.ndarray, np.ndarray, np.ndarray],
                  levels: np.ndarray) -> np.ndarray:
    """``(K,)`` total weight of a cycle at ``levels``, its edges as ``(over, under, order)``."""
    return _edge_weights(*(e[None] for e in edges), levels)[:, 0].sum(-1)


def _cycle_root(weight, lo: float, hi: float) -> float:
    """The smallest level in ``(lo, hi]`` at which the increasing function ``weight`` (a cycle's
    total weight, ``(K,)`` levels -> ``(K,)``) is ``>= 0``, to relative ``1e-15`` (64-point
    grids)."""
    for _ in range(12):
        if hi - lo <= 1e-15 * hi:
            break
        grid = np.linspace(lo, hi, 66)[1:-1]
        up = weight(grid) >= 0
        k = int(np.argmax(up)) if up.any() else len(grid)
        lo, hi = (grid[k - 1] if k > 0 else lo), (grid[k] if k < len(grid) else hi)
    return hi


def plane_permutation_optimum(sigma: np.ndarray,
                              upper: float = 1.0) -> tuple[float, np.ndarray, np.ndarray]:
    """The globally best point set of a permutation (Clement, Doerr, Klamroth, Paquete, arXiv
    2311.17463): sorted coordinates ``x_(0) < ... < x_(N-1)``, ``y_(0) < ... < y_(N-1)``, point
    ``k`` at ``(x_(k), y_(sigma_k))``, minimising ``t`` subject to

        x_(i) y_(j) <= t + o_ij / N,   x_(i) y_(j) >= c_ij / N - t   (all (N + 1)^2 boxes).

    In logarithms (``u_i = log x_(i)``, ``w_j = -log y_(j)``, ``u_N = w_N = 0``) every constraint
    is a difference constraint, ``u_i - w_j <= log(t + o_ij/N)``, ``w_j - u_i <= -log(c_ij/N - t)``,
    ``u_i - u_(i+1) <= -eps``, ``w_(j+1) - w_j <= -eps`` (eps = 1e-9: strict orders), so a level
    ``t`` is feasible iff the constraint graph (`plane_constraint_graph`) has no negative
    cycle, and then the shortest-path distances are a solution (Cormen et al., Introduction to
    Algorithms, sec. 24.4). Every edge weight increases with ``t``; the optimum is the least
    level without a negative cycle, found as in parametric shortest paths (Karp and Orlin 1981)
    or Dinkelbach's method: from the lower bound ``t = 1/(2N)`` (the discrepancy of the first
    axis alone), while Bellman-Ford finds negative cycles, raise ``t`` to the largest root of
    their weights (a level below which they stay negative, hence ``<= t*``); where rounding
    hides the cycle (the predecessor graph shows none that is negative), bisect between the last
    infeasible and the last feasible level. A few rounds, each ``O(N^3)``; no local optimum,
    unlike an NLP solver. ``upper`` (a level known feasible,
    default 1) bounds the roots. Returns ``(D*, x, y)``, ``D*`` the exact value of the points."""
    sigma = np.asarray(sigma)
    n = len(sigma)
    over, under, order = (g[0] for g in plane_constraint_graph(sigma[None]))
    lo, hi, best, at_root = 0.0, upper, None, False
    t = 0.5 / n
    for _ in range(200):
        feasible, dist, pred, improved = _bellman_ford(_edge_weights(over, under, order, t)[None])
        if feasible[0]:
            hi, best = t, dist
            if at_root or hi - lo <= 1e-15 * hi:  # a root is a lower bound of t*: feasible there, optimal
                break
            t, at_root = 0.5 * (lo + hi), False
            continue
        lo = t
        roots = []
        for cycle in _negative_cycles(pred[0], np.flatnonzero(improved[0])):
            tails = np.roll(cycle, 1)
            edges = (over[tails, cycle], under[tails, cycle], order[tails, cycle])
            if _cycle_weight(edges, np.array([t]))[0] < 0:
                top = min(upper, np.nanmin(np.append(edges[1], upper)))  # c/N - t > 0 on the cycle
                roots.append(_cycle_root(partial(_cycle_weight, edges), t, top))
        if roots and max(roots) >= hi or hi - lo <= 1e-15 * hi:
            break  # t* lies in (lo, hi] within rounding: hi is the optimum
        # no negative cycle read off (the predecessor graph can miss it in rounding): bisect
        t, at_root = (max(roots), True) if roots else (0.5 * (lo + hi), False)
    if best is None:
        best = _bellman_ford(_edge_weights(over, under, order, hi)[None])[1]
    dist = best
    d = dist[0] - dist[0][2 * n]
    x, y = np.exp(d[:n]), np.exp(-d[n:2 * n])
    return float(star_discrepancy_batch(torch.as_tensor(np.stack([x, y[sigma]], 1)))), x, y


def plane_permutation_nlp(sigma: np.ndarray, x: np.ndarray, y: np.ndarray, maxiter: int = 100,
                          level: float | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """A locally best point set of a fixed permutation, by SLSQP: the nonlinear program of
    `plane_permutation_optimum` in the coordinates themselves,

        min t  s.t.  x_(i) y_(j) - open_ij / N <= t,  closed_ij / N - x_(i) y_(j) <= t,
                     x_(i+1) - x_(i) >= 1e-9,  y_(j+1) - y_(j) >= 1e-9,  0 <= x, y <= 1,

    from ``(x, y)`` (Kraft 1988, SciPy; Jacobian written out, ``d(x_i y_j)/dx_i = y_j``), on an
    active set: the boxes whose local discrepancy is at least ``level / 3`` (default: a third of
    the start's ``D*``), plus, after each solve, every box above the solution's ``t`` (at most
    four solves). The NLP is not convex: this finds a local optimum, an independent check of
    the exact optimum (which is never larger). Returns ``(D*, x, y)``, ``D*`` exact."""
    from scipy.optimize import minimize

    n = len(sigma)
    opened, closed = plane_counts(sigma)
    i, j = np.divmod(np.arange((n + 1) ** 2), n + 1)
    ii_all, jj_all = np.concatenate([i, i]), np.concatenate([j, j])
    sign_all = np.repeat([1.0, -1.0], (n + 1) ** 2)
    rhs_all = np.concatenate([opened.ravel(), -closed.ravel()]) / n
    real = (ii_all < n) | (jj_all < n)  # the box [0, 1]^2 is exact for every set
    ii_all, jj_all, sign_all, rhs_all = ii_all[real], jj_all[real], sign_all[real], rhs_all[real]

    def local(z: np.ndarray) -> np.ndarray:
        return sign_all * np.append(z[:n], 1.0)[ii_all] * np.append(z[n:-1], 1.0)[jj_all] - rhs_all

    def solve(z0: np.ndarray, use: np.ndarray) -> np.ndarray:
        ii, jj, sign, rhs = ii_all[use], jj_all[use], sign_all[use], rhs_all[use]
        m, rows = len(ii), np.arange(len(ii))
        free_x, free_y = ii < n, jj < n
        jac = np.zeros((m + 2 * (n - 1), 2 * n + 1))
        jac[:m, -1] = 1.0
        g = np.arange(n - 1)
        jac[m + g, g + 1], jac[m + g, g] = 1.0, -1.0  # x_(g+1) - x_(g) >= gap
        jac[m + n - 1 + g, n + g + 1], jac[m + n - 1 + g, n + g] = 1.0, -1.0

        def cons(z: np.ndarray) -> np.ndarray:
            a, b = np.append(z[:n], 1.0)[ii], np.append(z[n:-1], 1.0)[jj]
            return np.concatenate([z[-1] - sign * a * b + rhs, np.diff(z[:n]) - ORDER_GAP,
                                   np.diff(z[n:-1]) - ORDER_GAP])

        def cons_jac(z: np.ndarray) -> np.ndarray:
            a, b = np.append(z[:n], 1.0)[ii], np.append(z[n:-1], 1.0)[jj]
            jac[rows[free_x], ii[free_x]] = -(sign * b)[free_x]
            jac[rows[free_y], n + jj[free_y]] = -(sign * a)[free_y]
            return jac

        grad = np.zeros(2 * n + 1)
        grad[-1] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(lambda z: z[-1], z0, jac=lambda z: grad, method="SLSQP",
                           bounds=[(0.0, 1.0)] * (2 * n + 1),
                           constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
                           options={"maxiter": maxiter, "ftol": 1e-15})
        return np.clip(res.x, 0.0, 1.0)

    z = np.concatenate([x, y, [0.0]])
    e = local(z)
    z[-1] = max(0.0, float(e.max()))
    use = e >= (z[-1] if level is None else level) / 3
    for _ in range(4):
        z = solve(z, use)
        e = local(z)
        above = e > z[-1] + 1e-12
        if not (above & ~use).any():
            break
        use |= above
        z[-1] = float(e.max())
    value = float(star_discrepancy_batch(torch.as_tensor(np.stack([z[:n], z[n:-1][sigma]], 1))))
    return value, z[:n], z[n:-1]


def _insertion(source: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """``(m, n)`` gather indices that move entry ``source`` to position ``target`` (the entries
    in between shift by one), one row per move."""
    p, a, b = np.arange(n)[None], source[:, None], target[:, None]
    idx = np.where((a < b) & (p >= a) & (p < b), p + 1,
                   np.where((a > b) & (p > b) & (p <= a), p - 1, p))
    return np.where(p == b, a, idx)


def _relocate(sigma: np.ndarray, a: np.ndarray, b: np.ndarray, r: np.ndarray,
              swap: np.ndarray) -> np.ndarray:
    """``(m, N)`` neighbours of ``sigma``: row ``k`` exchanges the y-ranks of the points of
    x-ranks ``a_k`` and ``b_k`` if ``swap_k``, else moves the point of x-rank ``a_k`` to x-rank
    ``b_k`` and y-rank ``r_k`` (the others keep their relative order): an insertion in
    ``sigma`` followed by one in ``sigma^-1``."""
    out = np.repeat(sigma[None], len(a), 0)
    rows, n = np.arange(len(a)), len(sigma)
    out[rows[swap], a[swap]], out[rows[swap], b[swap]] = sigma[b[swap]], sigma[a[swap]]
    move = ~swap
    out[move] = np.take_along_axis(out[move], _insertion(a[move], b[move], n), 1)
    y_moves = _insertion(sigma[a[move]], r[move], n)
    inverse = np.take_along_axis(np.argsort(out[move], 1), y_moves, 1)
    out[move] = np.argsort(inverse, 1)
    return out


def permutation_moves(sigma: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """``(m, N)`` random neighbours of ``sigma``, a quarter of each kind: exchange two points'
    y-coordinates (swap two entries), move a point in the x-order (insertion in ``sigma``), in
    the y-order (insertion in ``sigma^-1``), or both at once: relocate a point to a new x-rank
    and a new y-rank (a move the other three make only in two steps, through a worse set: from
    the 0.060715 set at N = 20 one relocation reaches the optimum 0.0604)."""
    n = len(sigma)
    if n < 2:
        raise ValueError(f"permutation_moves needs at least 2 points, got {n}")
    kind = rng.integers(0, 4, m)
    a = rng.integers(0, n, m)
    b = np.where(kind == 2, a, (a + rng.integers(1, n, m)) % n)
    r = np.where(kind == 1, sigma[a], (sigma[a] + rng.integers(1, n, m)) % n)
    return _relocate(sigma, a, b, r, kind == 0)


def permutation_neighbourhood(sigma: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Neighbours number ``index`` ``(m,)`` of ``sigma`` in the full neighbourhood of ``N^3 +
    N(N - 1)/2`` moves: ``index < N^3`` relocates the point of x-rank ``a`` to x-rank ``b`` and
    y-rank ``r``, ``index = (a N + b) N + r`` (every insertion along one axis among them, and
    ``sigma`` itself), the rest swap two entries (pairs ``a < b`` in row-major order)."""
    n = len(sigma)
    index = np.asarray(index)
    swap = index >= n**3
    a, rest = np.divmod(np.where(swap, 0, index), n * n)
    b, r = np.divmod(rest, n)
    pairs = np.stack(np.triu_indices(n, 1))[:, np.where(swap, index - n**3, 0)]
    return _relocate(sigma, np.where(swap, pairs[0], a), np.where(swap, pairs[1], b), r, swap)


def plane_permutation_search(points: np.ndarray, moves: int, rng: np.random.Generator,
                             history: int = 20, batch: int = 8,
                             scan: int | None = None) -> tuple[np.ndarray, float]:
    """Late acceptance hill climbing (Burke and Bykov, EJOR 2017) over permutations, each
    valued by its exact optimum (`plane_permutation_optimum`), from the permutation of
    ``points`` ``(N, 2)``, then a descent from the best over the full neighbourhood.

    A step draws ``batch`` neighbours (`permutation_moves`) and accepts one at random
    among those whose optimum is at most the threshold ``max(current, value history steps
    ago)``: one feasibility test each at that level (`plane_permutation_feasible`, all
    at once), then the exact optimum of the accepted one; ``moves`` steps. The descent makes
    ``scan`` tests in all: neighbours of the best, in random order, of the ``N^3 + N(N-1)/2`` of
    `permutation_neighbourhood` for ``D* < best``, moves to the best improving one and
    repeats (variable neighbourhood descent, Mladenovic and Hansen 1997: the random moves of
    LAHC rarely hit the one relocation out of ``N^3`` that leaves a deep local optimum). By
    default the whole neighbourhood when it has at most ``4 moves batch`` members (N = 20: 8190
    of 16000), else none: a sample of it costs far more than LAHC steps (nearly every test is
    infeasible and runs all ``V`` Bellman-Ford passes) and rarely holds the one good move.
    Returns the best points seen and their ``D*``."""
    n = len(points)
    order = np.argsort(points[:, 0], kind="stable")
    sigma = np.argsort(np.argsort(points[order, 1], kind="stable"), kind="stable")
    current, x, y = plane_permutation_optimum(sigma)
    best, best_sigma, best_points = current, sigma, np.stack([x, y[sigma]], 1)
    if n < 2:
        return best_points, best
    late = np.full(history, current)
    for step in range(moves):
        level = max(current, late[step % history]) * (1 + 1e-12)
        candidates = permutation_moves(sigma, batch, rng)
        ok = np.flatnonzero(plane_permutation_feasible(candidates, level))
        if len(ok):
            sigma = candidates[rng.choice(ok)]
            current, x, y = plane_permutation_optimum(sigma, upper=level)
            if current < best:
                best, best_sigma, best_points = current, sigma, np.stack([x, y[sigma]], 1)
        late[step % history] = current
    size = n**3 + n * (n - 1) // 2
    scan = (size if size <= 4 * moves * batch else 0) if scan is None else scan
    improved = True
    while improved and scan > 0:
        improved = False
        picks = rng.permutation(size)[:scan] if size <= 4 * scan else rng.integers(0, size, scan)
        for start in range(0, len(picks), 256):
            candidates = permutation_neighbourhood(best_sigma, picks[start:start + 256])
            scan -= len(candidates)
            ok = np.flatnonzero(plane_permutation_feasible(candidates, best * (1 - 1e-12)))
            for s in candidates[ok]:
                value, x, y = plane_permutation_optimum(s, upper=best)
                if value < best:
                    best, best_sigma, best_points, improved = value, s, np.stack([x, y[s]], 1), True
            if improved or scan <= 0:
                break
    return best_points, best
