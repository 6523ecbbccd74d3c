"""The solve of LatentTranslator: its fitted map from the statistics of all pairs.

:func:`solve` turns the merged statistics of :mod:`sklatent._pair_statistics`
into the normalisation of each space and the map between the normalised
spaces (Procrustes or least squares, :mod:`sklatent._kernels.solvers`);
:func:`degenerate_message` says when the pairs do not determine that map; and
:func:`unscale` gives the solution of pairs that were scaled by powers of two
(their *exponents*, :mod:`sklatent._pair_statistics`) in the units of the
pairs themselves; :func:`fold_affine` folds normalisation, map and
de-normalisation into the one affine map a transform applies;
:func:`standardise` is the standard normalisation applied to one space, and
:func:`gcv_alpha` the ridge penalty of least leave-one-out error on it. The
formulas are in :class:`~sklatent.LatentTranslator`'s docstring.
"""

from typing import NamedTuple

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from . import _kernels

CENTRED = ("standard", "center")
"""The normalisations that subtract each space's mean."""


class Solution(NamedTuple):
    """The fitted attributes of a translator (numpy), and the rank it reached."""

    coef: np.ndarray
    intercept: np.ndarray
    scaling: float
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    rank: int
    full_rank: int


def solve(moments, norms, *, method, normalize, alpha, allow_reflection, scale, rtol):
    """The normalisation and the map from sufficient statistics.

    Parameters
    ----------
    moments : CrossMoments
        Statistics of all the pairs, float64.
    norms : torch.Tensor of shape (2,) or None
        Sums of the row norms (``normalize="l2"``).
    method, normalize, alpha, allow_reflection, scale
        The translator's parameters.
    rtol : float or None
        :func:`~sklatent._pair_statistics.shortcut_rtol` of the pairs.

    Returns
    -------
    Solution
    """
    n = moments.count
    x_mean, x_div, x_scale, live_x = _space(
        moments.mean_x, moments.m2_x, n, None if norms is None else norms[0], normalize
    )
    y_mean, y_div, y_scale, live_y = _space(
        moments.mean_y, moments.m2_y, n, None if norms is None else norms[1], normalize
    )
    # Means of the normalised pairs (zero when centred), and their centred
    # cross-products and QR factor, restricted to non-constant features.
    ix, iy = live_x.nonzero().flatten(), live_y.nonzero().flatten()
    mx, my = moments.mean_x[ix] / x_div[ix], moments.mean_y[iy] / y_div[iy]
    if normalize in CENTRED:
        mx, my = torch.zeros_like(mx), torch.zeros_like(my)
    cross = (moments.cross / torch.outer(x_div, y_div))[ix][:, iy]

    coef = cross.new_zeros(x_mean.shape[0], y_mean.shape[0])
    intercept = cross.new_zeros(y_mean.shape[0])
    scaling = 1.0
    rank = 0
    if ix.numel() and iy.numel():
        if method == "orthogonal":
            # No intercept: uncentred moments about the normalisation shift.
            cross = cross + n * torch.outer(mx, my)
            W, rank = _kernels.procrustes(
                cross, allow_reflection=allow_reflection, rtol=rtol
            )
            if scale:
                squares = (moments.m2_x / x_div**2)[ix].sum() + n * (mx @ mx)
                scaling = max(float((W * cross).sum() / squares), 0.0)
                W = scaling * W
        else:
            factor = (moments.factor / x_div)[:, ix]
            projected = (moments.projected / y_div)[:, iy]
            if method == "linear":
                factor, projected = _kernels.stack_factors(
                    [factor], [projected], n**0.5 * mx, n**0.5 * my
                )
            penalty = alpha if method == "ridge" else 0.0
            W, rank = _kernels.least_squares(factor, projected, n_rows=n, alpha=penalty)
            if method != "linear":
                intercept[iy] = my - mx @ W
        coef[ix[:, None], iy] = W

    full_rank = ix.numel() if method != "orthogonal" else min(ix.numel(), iy.numel())
    return Solution(
        coef.cpu().numpy(),
        intercept.cpu().numpy(),
        scaling,
        x_mean.cpu().numpy(),
        x_scale.cpu().numpy(),
        y_mean.cpu().numpy(),
        y_scale.cpu().numpy(),
        rank,
        full_rank,
    )


def unscale(solution, exponents, *, method, normalize, scale):
    """The solution of pairs ``(X, Y)`` from that of ``(X 2^-a, Y 2^-b)``.

    Means and scales carry their space's power of two. A map between
    standardised or unit-norm spaces does not change; a map between the
    spaces themselves (``normalize`` None or ``"center"``) takes
    ``2^(b - a)``, except the rotation of an orthogonal map without
    ``scale``, which is the same in any units. Powers of two scale exactly,
    so these are the attributes a fit on ``(X, Y)`` would give if its
    statistics did not overflow.

    Raises
    ------
    ValueError
        When ``X`` and ``Y`` are more than ``2**1000`` (about ``1e301``) apart
        in magnitude: a map between them leaves float64's range.
    """
    a, b = exponents
    if not (a or b):
        return solution
    if abs(b - a) > 1000:
        raise ValueError(
            f"X and y differ in magnitude by a factor of about 2**{abs(b - a)}: "
            "a map between them overflows float64. Rescale one of them."
        )

    def times(value, power):
        return np.ldexp(value, power)

    s = solution
    x_scale, y_scale = s.x_scale, s.y_scale
    coef, intercept, scaling = s.coef, s.intercept, s.scaling
    if normalize in ("standard", "l2"):
        x_scale, y_scale = times(x_scale, a), times(y_scale, b)
    else:
        intercept = times(intercept, b)
        if method != "orthogonal" or scale:
            coef = times(coef, b - a)
            scaling = float(times(scaling, b - a)) if method == "orthogonal" else 1.0
    return s._replace(
        coef=coef,
        intercept=intercept,
        scaling=scaling,
        x_mean=times(s.x_mean, a),
        x_scale=x_scale,
        y_mean=times(s.y_mean, b),
        y_scale=y_scale,
    )


def scaled_alpha(alpha, exponents, *, normalize):
    """The ridge penalty of pairs scaled by ``2**-exponents`` (see :func:`unscale`).

    A penalty on the map between unstandardised spaces is in the units of
    ``X``'s squares: ``alpha * 2**(-2a)`` on ``X * 2**-a`` is the same
    problem as ``alpha`` on ``X``.
    """
    if normalize in ("standard", "l2"):
        return alpha
    with np.errstate(over="ignore"):  # a penalty beyond float64 is its largest
        return min(float(np.ldexp(alpha, -2 * exponents[0])), np.finfo(np.float64).max)


def _space(mean, m2, n, norm_sum, normalize):
    """Normalisation of one space: ``(mean, divisor, scale, live mask)``.

    ``divisor`` is what the (row-normalised) pairs are divided by before
    the map is fitted; ``scale`` is what the translated vectors are
    multiplied by, and differs from it only for ``"l2"``. Features are
    live unless :func:`~sklatent._kernels.constant_features` says
    otherwise, about the mean when the normalisation centres and about
    zero when it does not.
    """
    ones = torch.ones_like(mean)
    if normalize in CENTRED:
        constant = _kernels.constant_features(m2 / n, mean, n)
        std = (m2 / max(n - 1, 1)).sqrt()
        divisor = (
            _kernels.safe_scale(std, constant) if normalize == "standard" else ones
        )
        return mean, divisor, divisor, ~constant
    constant = _kernels.constant_features(m2 / n + mean**2, 0 * mean, n)
    scale = ones * (norm_sum / n) if norm_sum is not None else ones
    return torch.zeros_like(mean), ones, scale, ~constant


def degenerate_message(solution, *, method, normalize, alpha, n, d_x, d_y):
    """What to warn when the pairs do not determine the map, else None."""
    rank, full_rank = solution.rank, solution.full_rank
    regularised = method == "ridge" and alpha > 0
    if rank >= full_rank and rank > 0 or (regularised and rank > 0):
        return None
    if rank == 0:
        return (
            f"The {n} pair(s) determine no direction of a map from {d_x} to "
            f"{d_y} features (one pair, or constant X or y): coef_ is zero and "
            "every input translates to the same vector, the mean target. Fit "
            "on more pairs of distinct, non-constant embeddings."
        )
    centred = normalize in CENTRED or method in ("affine", "ridge")
    needed = full_rank + int(centred)
    done = (
        "the map of the other directions is arbitrary"
        if method == "orthogonal"
        else "coef_ is the minimum-norm least-squares solution"
    )
    return (
        f"The {n} pair(s) determine only {rank} of the {full_rank} "
        f"directions that method={method!r} needs for a unique map "
        f"from {d_x} to {d_y} features (constant features count for "
        f"none): {done}. Use more pairs (at least {needed} in general "
        "position), or method='ridge'."
    )


def fold_affine(translator, *, inverse, dtype):
    """Return ``(shift, weight, offset)``: out = (in - shift) @ weight + offset.

    Normalisation, map and de-normalisation of a fitted ``translator`` folded
    into one affine map, after a subtraction of the mean (more accurate in
    float32 for spaces whose mean is large next to their spread). ``shift``
    is rounded to ``dtype`` here, and what the rounding lost is folded into
    ``offset`` in float64, so that a feature of small spread far from the
    origin is not shifted by half a unit in the last place of its mean.
    """
    t = translator
    if not inverse:
        x_div = 1.0 if t.normalize == "l2" else t.x_scale_[:, None]
        weight = t.coef_ / x_div * t.y_scale_
        offset = t.intercept_ * t.y_scale_ + t.y_mean_
        shift = t.x_mean_
    else:
        # The pseudo-inverse of s * R, for R with orthonormal rows or
        # columns (coef_ is zero when s is).
        # (divided twice: the square of an extreme scale overflows).
        pinv = t.coef_.T / t.scaling_ / t.scaling_ if t.scaling_ else t.coef_.T
        weight = pinv / t.y_scale_[:, None] * t.x_scale_
        shift, offset = t.y_mean_, t.x_mean_
    rounded = shift.astype(dtype).astype(np.float64)
    return rounded, weight, offset - (shift - rounded) @ weight


RIDGE_ALPHAS = np.logspace(-3, 5, 33)
"""The penalties :func:`gcv_alpha` tries by default."""


def gcv_alpha(X, Y, alphas=RIDGE_ALPHAS):
    """Ridge penalty minimising the leave-one-out error, in closed form.

    As :class:`sklearn.linear_model.RidgeCV` does by default (its "GCV"
    mode): from the SVD of the standardised, centred ``X`` (through the
    eigendecomposition of its Gram matrix), the exact
    leave-one-out residuals :math:`r_i / (1 - h_{ii})` for every penalty at
    the cost of one decomposition. ``X`` and ``Y`` are standardised as
    :class:`LatentTranslator` with ``normalize="standard"`` does, so the
    penalty is the one its ``method="ridge"`` takes.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Source pairs.
    Y : array-like of shape (n_samples, n_targets)
        Target pairs.
    alphas : array-like of float, default=np.logspace(-3, 5, 33)
        Penalties to try.

    Returns
    -------
    float
        The penalty with the smallest summed squared leave-one-out error.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import gcv_alpha
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 5))
    >>> alpha = gcv_alpha(X, X @ rng.normal(size=(5, 3)))
    >>> bool(alpha <= 1.0)
    True
    """
    Xs, Ys = standardise(X), standardise(Y)
    n = Xs.shape[0]
    # The SVD X = U S V^T from the eigendecomposition of the d x d Gram
    # matrix (far cheaper than an SVD of the n x d matrix when n >> d);
    # directions of zero variance (dead features) have no effect and go.
    # One BLAS thread: a d x d eigendecomposition is small, and multithreaded
    # LAPACK on a shared, loaded machine spent 10-100x longer in it (its
    # threads spin waiting for cores the other processes hold).
    with threadpool_limits(1, user_api="blas"):
        s2, V = np.linalg.eigh(Xs.T @ Xs)
    live = s2 > 1e-10 * max(float(s2.max(initial=0.0)), 1e-300)
    s2, V = s2[live], V[:, live]
    s = np.sqrt(s2)
    U = (Xs @ V) / s
    UtY = U.T @ Ys
    U2 = U**2
    alphas = np.sort(np.asarray(alphas, dtype=np.float64))
    errors = {}

    def loo_error(i):
        if i not in errors:
            f = s2 / (s2 + alphas[i])
            residual = Ys - U @ (f[:, None] * UtY)
            leverage = U2 @ f + 1.0 / n  # +1/n: the intercept
            loo = residual / np.maximum(1.0 - leverage, 1e-12)[:, None]
            errors[i] = float(np.einsum("ij,ij->", loo, loo))
        return errors[i]

    # Coarse to fine: every 4th penalty, then every penalty between the best
    # coarse one's neighbours. The same choice as the full grid whenever the
    # leave-one-out error is unimodal in the penalty (as it is for ridge on
    # the spaces we measured), at about half the cost.
    coarse = list(range(0, len(alphas), 4))
    if coarse[-1] != len(alphas) - 1:
        coarse.append(len(alphas) - 1)
    at = coarse.index(min(coarse, key=loo_error))
    lo, hi = coarse[max(at - 1, 0)], coarse[min(at + 1, len(coarse) - 1)]
    best = min(range(lo, hi + 1), key=loo_error)
    return float(alphas[best])


def standardise(Z):
    """``Z`` normalised as :class:`LatentTranslator` with ``normalize="standard"``.

    The translator's own rule (:func:`_space`,
    on the float64 moments of :mod:`sklatent._kernels.moments`): centred,
    divided by the standard deviation (``ddof=1``), and the features that
    :func:`~sklatent._kernels.constant_features` declares constant set to
    zero, as the translator leaves them out of its map.
    """
    Z = torch.from_numpy(np.array(Z, dtype=np.float64))
    n, mean, m2 = _kernels.column_moments(Z)
    mean, divisor, _, live = _space(mean, m2, n, None, "standard")
    return ((Z - mean) / divisor * live).numpy()
