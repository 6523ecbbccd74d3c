"""Synthetic old and new embedding spaces of one latent, for the migration tests."""

import numpy as np


def spaces(n, *, seed=0, d_old=32, d_new=24):
    """Old and new embeddings of ``n`` items: nonlinear, anisotropic, off-origin.

    Both are functions of one 16-d latent (fixed maps, whatever ``seed``);
    float32, the old space with three dead dimensions.
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 16))
    A = np.random.default_rng(101).normal(size=(16, d_old))
    B = np.random.default_rng(102).normal(size=(16, d_new))
    old = np.tanh(Z @ A) + 0.3 * rng.normal(size=(n, d_old)) + 5.0
    old[:, :3] = 1.0
    new = (Z @ B) * np.linspace(0.1, 3.0, d_new) + 0.5 * np.sin(Z @ B)
    new = new + 0.3 * rng.normal(size=(n, d_new)) - 2.0
    return old.astype(np.float32), new.astype(np.float32)
