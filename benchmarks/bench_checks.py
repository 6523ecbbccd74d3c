"""What the input checks of issue 20 (section 4) cost on the hot paths.

Each line times, in one process on the same data, the call with its checks
against the same call with only those checks replaced by no-ops, and prints
their ratio (best of ``--repeats``); the last column is the plain computation
(the kernel, or ``torch.addmm`` of the folded affine map) for scale:

- ``nn.RelativeProjection.forward``: dtype, NaN and infinity checks of ``x``
  and the anchors;
- ``LatentTranslator.transform``: one ``aminmax`` per batch against the
  overflow limit, and the range of the folded map (the kernel column: the
  bare ``torch.addmm`` of the folded map);
- ``LatentTranslator.fit``: the largest value of each batch of X and Y, which
  says whether it must be scaled by a power of two
  (:func:`sklatent._kernels.binary_exponent`).

::

    python benchmarks/bench_checks.py
    python benchmarks/bench_checks.py --rows 20000 --features 768 --device cuda
"""

import argparse
import time
from unittest import mock

import numpy as np
import torch

from sklatent import LatentTranslator, _kernels, _translation
from sklatent._translation_solve import fold_affine
from sklatent.nn import RelativeProjection


def best_time(function, repeats, device):
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name, checked, unchecked, plain=None):
    kernel = "" if plain is None else f"  kernel {plain * 1e3:9.3f} ms"
    print(
        f"{name:<28} checked {checked * 1e3:9.3f} ms  unchecked "
        f"{unchecked * 1e3:9.3f} ms  ratio {checked / unchecked:5.3f}{kernel}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--anchors", type=int, default=256)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.rows, args.features, generator=generator).to(device)
    anchors = torch.randn(args.anchors, args.features, generator=generator).to(device)

    module = RelativeProjection()
    functions = module.functions

    def forward():
        module(x, anchors)

    checked = best_time(forward, args.repeats, device)
    with mock.patch.object(RelativeProjection, "_check_values", lambda *a: None):
        unchecked = best_time(forward, args.repeats, device)
    report(
        "RelativeProjection.forward",
        checked,
        unchecked,
        best_time(
            lambda: _kernels.relative_projection(x, anchors, functions),
            args.repeats,
            device,
        ),
    )

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features)).astype(np.float32)
    Y = X @ rng.standard_normal((args.features, args.features)).astype(np.float32)
    translator = LatentTranslator(device=args.device).fit(X, Y)
    shift, weight, offset = (
        torch.as_tensor(a, dtype=torch.float32, device=device)
        for a in fold_affine(translator, inverse=False, dtype=np.float32)
    )
    Xt = torch.as_tensor(X, device=device)

    def transform():
        translator.transform(Xt)

    checked = best_time(transform, args.repeats, device)
    with mock.patch.object(_translation, "check_magnitude", lambda *a, **k: None):
        unchecked = best_time(transform, args.repeats, device)
    report(
        "LatentTranslator.transform",
        checked,
        unchecked,
        best_time(
            lambda: torch.addmm(offset, Xt - shift, weight), args.repeats, device
        ),
    )

    def fit():
        LatentTranslator(device=args.device).fit(X, Y)

    checked = best_time(fit, max(3, args.repeats // 4), device)
    with mock.patch.object(_kernels, "binary_exponent", lambda z: 0):
        plain = best_time(fit, max(3, args.repeats // 4), device)
    report("LatentTranslator.fit", checked, plain)


if __name__ == "__main__":
    main()
