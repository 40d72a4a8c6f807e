"""Poincare embedding of a tree-shaped hierarchy (Nickel and Kiela, NeurIPS 2017).

Builds a balanced tree, takes its transitive closure (every ancestor-descendant
pair is an edge, as for the WordNet noun closure), trains embeddings in the
Poincare ball with Riemannian Adam on the softmax-over-negatives loss

    L = -sum_{(u, v)} log( exp(-d(u, v)) / sum_{v' in {v} + N(u)} exp(-d(u, v')) ),

and reports reconstruction mean rank and mean average precision (MAP): each
node's true neighbours ranked by distance among all nodes it is not linked to.

    python examples/poincare_tree.py [--branching 3] [--depth 5] [--dim 5] [--epochs 800] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch

from extremo.manifolds import ManifoldParameter, PoincareBall
from extremo.optim import RiemannianAdam


def balanced_tree(branching: int, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Parent index (root: -1) and depth of every node of a balanced tree, breadth first."""
    sizes = [branching**k for k in range(depth + 1)]
    depth_of = torch.repeat_interleave(torch.arange(depth + 1), torch.tensor(sizes))
    # in breadth-first order the children of node p are 1 + branching * p + (0..branching-1)
    parents = torch.cat((torch.tensor([-1]), torch.arange(1, len(depth_of)).sub(1).div(branching, rounding_mode="floor")))
    return parents, depth_of


def closure_adjacency(parents: torch.Tensor, depth: int) -> torch.Tensor:
    """Symmetric ancestor-or-descendant adjacency (transitive closure of the tree), ``(n, n)`` bool."""
    n = parents.numel()
    anc = torch.zeros(n, n, dtype=torch.bool)
    nodes, cur = torch.arange(n), parents.clone()
    for _ in range(depth):  # one vectorised hop up the tree per level
        alive = cur >= 0
        anc[nodes[alive], cur[alive]] = True
        cur = torch.where(alive, parents[cur.clamp_min(0)], cur)
    return anc | anc.T


def reconstruction(dist: torch.Tensor, adj: torch.Tensor) -> tuple[float, float]:
    """Mean rank and MAP of every node's true neighbours among its non-neighbours.

    The rank of edge ``(u, v)`` is 1 + the number of non-neighbours of ``u`` closer to
    ``u`` than ``v``; the average precision of ``u`` is the mean over its neighbours
    ``v`` of ``#{neighbours at distance <= d(u, v)} / #{nodes != u at distance <= d(u, v)}``.
    Sorting each row once makes this O(n^2 log n) time and O(n^2) memory.
    """
    n = dist.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=dist.device)
    inf = torch.tensor(float("inf"), dtype=dist.dtype, device=dist.device)
    neg_sorted = torch.where(~adj & ~eye, dist, inf).sort(-1).values
    pos_sorted = torch.where(adj, dist, inf).sort(-1).values
    neg_closer = torch.searchsorted(neg_sorted, dist, side="left")
    pos_upto = torch.searchsorted(pos_sorted, dist, side="right")
    ranks = (1 + neg_closer)[adj].to(torch.float64)
    prec = pos_upto / (pos_upto + neg_closer)
    has = adj.any(-1)
    ap = torch.where(adj, prec, 0.0).sum(-1)[has] / adj.sum(-1)[has]
    return ranks.mean().item(), ap.to(torch.float64).mean().item()


@dataclass
class TreeEmbedding:
    """Trained points ``(n, dim)``, reconstruction scores, training time and mean norm per tree depth."""

    embedding: torch.Tensor
    mean_rank: float
    map: float
    seconds: float
    mean_norm_by_depth: list[float]


def embed_tree(branching: int = 3, depth: int = 5, dim: int = 5, epochs: int = 800, negatives: int = 50,
               lr: float = 0.05, burn_in: int = 20, seed: int = 0, log_every: int = 0) -> TreeEmbedding:
    """Train a Poincare embedding of the closure of a balanced tree (float64) and score it.

    One full-batch Riemannian Adam step per epoch over all closure edges ``(u, v)``, each
    against ``negatives`` nodes not linked to ``u`` drawn uniformly; the first
    ``burn_in`` epochs use ``lr / 10`` (Nickel and Kiela, Sec. 3).
    """
    gen = torch.Generator().manual_seed(seed)
    parents, depth_of = balanced_tree(branching, depth)
    adj = closure_adjacency(parents, depth)
    n = adj.shape[0]
    non_edges = (~adj & ~torch.eye(n, dtype=torch.bool)).to(torch.float64)
    edges = adj.nonzero()
    # the root is linked to every node and has no negatives; its edges are trained from the other end
    edges = edges[non_edges[edges[:, 0]].sum(-1) > 0]
    u, v = edges[:, 0], edges[:, 1]
    if log_every:
        print(f"tree: {n} nodes, branching {branching}, depth {depth}, {int(adj.sum()) // 2} closure edges, dim {dim}")

    ball = PoincareBall(dim)
    init = 1e-3 * (2 * torch.rand(n, dim, generator=gen, dtype=torch.float64) - 1)
    emb = ManifoldParameter(ball.projx(init), ball)
    opt = RiemannianAdam([emb], lr=lr)
    target = torch.zeros(len(u), dtype=torch.long)

    def score():
        with torch.no_grad():
            return reconstruction(ball.dist(emb[:, None, :], emb[None, :, :]), adj)

    t0 = time.perf_counter()
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = lr / 10 if epoch < burn_in else lr
        neg = torch.multinomial(non_edges[u], negatives, replacement=True, generator=gen)
        cand = torch.cat((v[:, None], neg), 1)
        opt.zero_grad()
        d = ball.dist(emb[u][:, None, :], emb[cand])
        loss = torch.nn.functional.cross_entropy(-d, target)
        loss.backward()
        opt.step()
        if log_every and (epoch % log_every == 0 or epoch == epochs - 1):
            mr, mean_ap = score()
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  mean rank {mr:.3f}  MAP {mean_ap:.4f}")
    seconds = time.perf_counter() - t0
    mr, mean_ap = score()
    radius = emb.detach().norm(dim=-1)
    by_depth = [radius[depth_of == k].mean().item() for k in range(depth + 1)]
    return TreeEmbedding(emb.detach().clone(), mr, mean_ap, seconds, by_depth)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--branching", type=int, default=3)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--dim", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--negatives", type=int, default=50)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    res = embed_tree(args.branching, args.depth, args.dim, args.epochs, args.negatives, args.lr,
                     seed=args.seed, log_every=200)
    print(f"\nreconstruction: mean rank {res.mean_rank:.3f}, MAP {res.map:.4f}  ({res.seconds:.1f} s training)")
    print("mean Euclidean norm by depth (root -> leaves):", " ".join(f"{r:.3f}" for r in res.mean_norm_by_depth))


if __name__ == "__main__":
    main()
