"""sklatent against the peer library latentis on the same shapes, in float32.

latentis is not a dependency of sklatent: install it into a separate
environment (torch first, so that no CUDA build is fetched) and pass that
environment's python::

    python3 -m venv /tmp/peer
    /tmp/peer/bin/pip install torch==2.13.0
    /tmp/peer/bin/pip install latentis==0.0.8 scikit-learn
    python benchmarks/bench_peer.py --peer-python /tmp/peer/bin/python
    python benchmarks/bench_peer.py --peer-python /tmp/peer/bin/python --quick
    python benchmarks/bench_peer.py --rows 200000 --no-fits --repeats 7

Work (float32, 768 features; fitting pairs anisotropic and off the origin,
the target a rotation of the source plus noise):

- cosine relative transform of 20,000 rows (``--rows``) onto 1,000 anchors:
  sklatent with numpy in and out and with tensors in and out, latentis' ``cosine_proj``
  (tensors), and a bare ``torch.mm`` of the same shapes in each process;
- translator fits on 2,000, 30,000 and 100,000 pairs (``--quick``: 2,000 and
  30,000): sklatent's ``LatentTranslator`` (``method="orthogonal"`` and
  ``"affine"``, standardised), latentis' ``Procrustes`` and its least-squares
  translator (standard scaling and ``torch.linalg.lstsq``), and the float32
  reference: standardise and ``scipy.linalg.orthogonal_procrustes``.

Each side runs in its own process (latentis in ``--peer-python``) on the same
data, drawn from one seed; within a process the cases alternate on every
repeat, and each figure is the median (and best) of ``--repeats`` runs.
Since the two processes may meet different loads, each also times the same
``torch.mm``: compare the "x torch.mm" columns when the machine is busy.
"""

import argparse
import json
import statistics
import subprocess
import time

import numpy as np
import torch

D, N_ROWS, N_ANCHORS = 768, 20_000, 1_000


def pairs(n, seed=0):
    """``n`` float32 pairs: anisotropic, off the origin, rotated plus noise."""
    rng = np.random.RandomState(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(D, D)))
    X = rng.normal(size=(n, D)) * rng.uniform(0.1, 2, size=D) + 1.0
    Y = X @ rotation + 0.1 * rng.normal(size=(n, D))
    return X.astype(np.float32), Y.astype(np.float32)


def rows(n=N_ROWS):
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, D), dtype=np.float32)


def timed(cases, repeats):
    """Median and best wall time of each case, alternating after a warm-up."""
    for case in cases.values():
        case()
    times = {name: [] for name in cases}
    names = list(cases)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)
    return {
        name: (statistics.median(values), min(values)) for name, values in times.items()
    }


def sklatent_cases(sizes, n_rows):
    from scipy.linalg import orthogonal_procrustes

    from sklatent import LatentTranslator, RelativeTransformer

    X = rows(n_rows)
    X_t = torch.from_numpy(X)
    anchors = X[:N_ANCHORS].copy()
    rel = RelativeTransformer(anchors=np.arange(N_ANCHORS)).fit(anchors)
    cases = {
        "cosine transform, numpy in/out": lambda: rel.transform(X),
        "cosine transform, tensor in/out": lambda: rel.transform(X_t),
    }
    fits = {}
    for n in sizes:
        P, Q = pairs(n)

        def standardised_procrustes(P=P, Q=Q):
            P = (P - P.mean(0)) / P.std(0, ddof=1)
            Q = (Q - Q.mean(0)) / Q.std(0, ddof=1)
            return orthogonal_procrustes(P, Q)[0]

        for method in ("orthogonal", "affine"):
            fits[f"fit {method}, {n:,} pairs"] = lambda P=P, Q=Q, m=method: (
                LatentTranslator(method=m).fit(P, Q)
            )
        fits[f"standardise + orthogonal_procrustes, {n:,} pairs"] = (
            standardised_procrustes
        )
    return cases, fits


def latentis_cases(sizes, n_rows):
    from latentis.transform.base import StandardScaling
    from latentis.transform.projection import cosine_proj, relative_projection
    from latentis.transform.translate.aligner import (
        MatrixAligner,
        Procrustes,
        Translator,
    )
    from latentis.transform.translate.functional import lstsq_align_state

    X = rows(n_rows)
    anchors = torch.from_numpy(X[:N_ANCHORS].copy())
    X_t = torch.from_numpy(X)
    cases = {
        "cosine transform, tensor in/out": lambda: relative_projection(
            X_t, anchors, projection_fn=cosine_proj
        ),
    }
    fits = {}
    for n in sizes:
        P, Q = (torch.from_numpy(Z) for Z in pairs(n))
        fits[f"Procrustes, {n:,} pairs"] = lambda P=P, Q=Q: Procrustes().fit(P, Q)
        fits[f"lstsq translator, {n:,} pairs"] = lambda P=P, Q=Q: Translator(
            aligner=MatrixAligner(name="lstsq", align_fn_state=lstsq_align_state),
            x_transform=StandardScaling(),
            y_transform=StandardScaling(),
        ).fit(P, Q)
    return cases, fits


def run_side(side, sizes, repeats, n_rows):
    """Time one side's cases (and the shared torch.mm) in this process."""
    X_t = torch.from_numpy(rows(n_rows))
    anchors = X_t[:N_ANCHORS].clone()
    build = sklatent_cases if side == "sklatent" else latentis_cases
    cases, fits = build(sizes, n_rows)
    cases["torch.mm (same shapes)"] = lambda: torch.mm(X_t, anchors.T)
    result = timed(cases, repeats)
    result.update(timed(fits, max(3, repeats // 2)))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default=None, help="python with latentis")
    parser.add_argument("--quick", action="store_true", help="fits up to 30,000")
    parser.add_argument("--rows", type=int, default=N_ROWS, help="transform rows")
    parser.add_argument("--no-fits", action="store_true", help="transforms only")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--side", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [2_000, 30_000] if args.quick else [2_000, 30_000, 100_000]
    sizes = [] if args.no_fits else sizes
    if args.side is not None:  # a child: print this side's figures as JSON
        print(json.dumps(run_side(args.side, sizes, args.repeats, args.rows)))
        return
    results = {"sklatent": run_side("sklatent", sizes, args.repeats, args.rows)}
    if args.peer_python:
        command = [args.peer_python, __file__, "--side", "latentis"]
        command += ["--repeats", str(args.repeats), "--rows", str(args.rows)]
        command += ["--quick"] * args.quick + ["--no-fits"] * args.no_fits
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode == 0:
            results["latentis"] = json.loads(completed.stdout.strip().splitlines()[-1])
        else:
            print(completed.stderr[-3000:])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| side | work | median s | best s | x torch.mm (median) |")
    print("|---|---|---|---|---|")
    for side, figures in results.items():
        mm = figures["torch.mm (same shapes)"][0]
        for name, (median, best) in figures.items():
            ratio = median / mm
            print(f"| {side} | {name} | {median:.3f} | {best:.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
