"""Exact scaling by powers of two, for data of extreme magnitude.

A power of two multiplies every float exactly (as long as the result stays a
normal number), so data scaled by one is the same data in other units:
statistics, fits and scores taken on ``X * 2**-binary_exponent(X)`` are those
of ``X``, without the overflow of squares near ``1e300`` or the lost digits of
products near ``1e-300``. Data of ordinary magnitude (within
:data:`ORDINARY`, all real embeddings) is left alone, so scaling never changes
a result there.
"""

import math

import torch

ORDINARY = 2.0**64
"""Largest absolute values in ``[1 / ORDINARY, ORDINARY]`` are not scaled."""

_STEP = 2**9
"""The largest power of two applied at once (``2.0**1024`` overflows)."""


def exponent_of(largest, *, ordinary=ORDINARY):
    """The ``p`` with ``largest * 2**-p`` in ``[0.5, 1)``, or 0.

    Parameters
    ----------
    largest : float
        A largest absolute value.
    ordinary : float or None, default=ORDINARY
        0 is returned for a ``largest`` in ``[1 / ordinary, ordinary]``; None
        scales every positive ``largest``.

    Returns
    -------
    int
        0 also for a ``largest`` that is 0 (or not a positive number).
    """
    if not largest > 0:
        return 0
    if ordinary is not None and 1 / ordinary <= largest <= ordinary:
        return 0
    return math.frexp(largest)[1]


def binary_exponent(z):
    """:func:`exponent_of` the largest ``|z|``: 0 for data of ordinary magnitude.

    Parameters
    ----------
    z : torch.Tensor

    Returns
    -------
    int
    """
    if z.numel() == 0:
        return 0
    low, high = torch.aminmax(z.detach())
    return exponent_of(max(float(high), -float(low)))


def scale_exactly(z, power):
    """``z * 2**power``, exact for values that stay normal.

    Applied in steps of at most ``2**512``: ``2.0**power`` alone overflows
    for ``power > 1023``, which scaling subnormal values up needs.

    Parameters
    ----------
    z : torch.Tensor
    power : int

    Returns
    -------
    torch.Tensor
    """
    while power:
        step = max(-_STEP, min(_STEP, power))
        z = z * 2.0**step
        power -= step
    return z
