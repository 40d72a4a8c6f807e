"""Principal subbundles: a noisy sphere (reconstruction and a geodesic) and the swiss roll unrolled.

    python examples/subbundle_noisy_sphere_swiss_roll.py [--out-dir docs/img]

Writes manifold_learning_noisy_sphere.png and manifold_learning_swiss_roll.png and prints the
radial error before/after reconstruction and the swiss roll's Procrustes error.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from extremo.manifold_learning import PrincipalSubbundle


def procrustes(y, z):
    a, b = y - y.mean(0), z - z.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    return np.linalg.norm(a @ (u @ vt) - b) / np.linalg.norm(b), a @ (u @ vt) + z.mean(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="docs/img")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    clean = rng.normal(size=(1500, 3))
    clean /= np.linalg.norm(clean, axis=1, keepdims=True)
    x = clean + 0.05 * rng.normal(size=clean.shape)
    pb = PrincipalSubbundle(2, n_neighbors=40, trust=None).fit(x)
    r = pb.reconstruct(x).numpy()
    a, b = x[np.argmax(x[:, 2])], x[np.argmin(x[:, 0])]
    path = pb.geodesic(a, b).numpy()[0]
    print(f"noisy sphere sigma=0.05: mean |r - 1| {np.abs(np.linalg.norm(x, axis=1) - 1).mean():.4f} "
          f"-> {np.abs(np.linalg.norm(r, axis=1) - 1).mean():.4f} (shrunk by local averaging: "
          f"mean radius {np.linalg.norm(r, axis=1).mean():.4f})")
    fig = plt.figure(figsize=(10, 5))
    for i, (pts, title) in enumerate(((x, "noisy samples, sigma = 0.05"), (r, "reconstruct(points) and a geodesic"))):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        front = pts[:, 0] > -0.3
        ax.scatter(*pts[front].T, s=2, c=pts[front, 2], cmap="viridis")
        if i == 1:
            ax.plot(*path.T, color="red", lw=2)
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    out = os.path.join(args.out_dir, "manifold_learning_noisy_sphere.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")

    t = 1.5 * np.pi * (1 + 2 * rng.random(1000))
    h = 10 * rng.random(1000)
    roll = np.stack([t * np.cos(t), h, t * np.sin(t)], 1)
    z = np.stack([0.5 * (t * np.sqrt(1 + t**2) + np.arcsinh(t)), h], 1)
    y = PrincipalSubbundle(2, n_neighbors=15).fit(roll).embed(roll).numpy()
    err, aligned = procrustes(y, z)
    print(f"swiss roll: Procrustes error of embed() vs (arc length, height): {err:.3f}")
    fig = plt.figure(figsize=(11, 4))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ax.scatter(*roll.T, c=t, s=3, cmap="Spectral")
    ax.set_title("swiss roll")
    ax.set_axis_off()
    ax = fig.add_subplot(1, 2, 2)
    ax.scatter(*aligned.T, c=t, s=3, cmap="Spectral")
    ax.set_xlabel("arc length")
    ax.set_ylabel("height")
    ax.set_title(f"embed(): MDS of sub-Riemannian graph distances\n(Procrustes error {err:.3f} vs arc length, height)")
    ax.set_aspect("equal")
    fig.tight_layout()
    out = os.path.join(args.out_dir, "manifold_learning_swiss_roll.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
