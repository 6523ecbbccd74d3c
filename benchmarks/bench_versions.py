"""Time the estimators' hot paths in two or more source trees, side by side.

For a change that must not slow anything down (a refactor, say), the ratios of
``benchmarks/run.py`` move too much between runs on a shared machine to show a
few percent. Here each source tree (a checkout of sklatent, e.g. made with
``git worktree add --detach /tmp/before REV``) runs the same operations in its
own fresh process, with that tree first on ``PYTHONPATH``; the trees alternate
for ``--rounds`` rounds and each operation keeps its best time over all
rounds and repeats, the run least disturbed by other processes. The table
gives each tree's best time and its change against the first tree.

    python benchmarks/bench_versions.py /tmp/before .            # 8 rounds
    python benchmarks/bench_versions.py /tmp/before /tmp/after --rounds 12
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def operations():
    """``{name: (function, repeats)}`` of the hot paths, on fixed data."""
    import numpy as np
    import torch

    from sklatent import LatentTranslator, RelativeTransformer

    rng = np.random.default_rng(0)
    ops = {}
    for n, d, k in [(20_000, 384, 256), (2_000, 256, 64), (20_000, 768, 1_024)]:
        X = rng.standard_normal((n, d)).astype(np.float32)
        relative = RelativeTransformer(n_anchors=k, random_state=0).fit(X)
        ops[f"relative cosine transform {n}x{d}->{k}"] = (
            lambda r=relative, X=X: r.transform(X),
            7,
        )
        ops[f"relative fit {n}x{d}->{k}"] = (
            lambda X=X, k=k: RelativeTransformer(n_anchors=k, random_state=0).fit(X),
            3,
        )
    X = rng.standard_normal((5_000, 384)).astype(np.float32)
    Y = X @ rng.standard_normal((384, 384)).astype(np.float32)
    for method in ("orthogonal", "linear"):
        ops[f"translator fit {method} 5000x384"] = (
            lambda m=method: LatentTranslator(method=m).fit(X, Y),
            5,
        )
    translator = LatentTranslator().fit(X, Y)
    rows = rng.standard_normal((20_000, 384)).astype(np.float32)
    ops["translator transform 20000x384"] = (lambda: translator.transform(rows), 7)
    tensor = torch.from_numpy(rows)
    ops["translator transform tensor 20000x384"] = (
        lambda: translator.transform(tensor),
        7,
    )
    few = rows[:256]
    ops["translator transform 256x384"] = (lambda: translator.transform(few), 50)

    def stream():
        streamed = LatentTranslator()
        for start in range(0, 5_000, 500):
            streamed.partial_fit(X[start : start + 500], Y[start : start + 500])

    ops["translator partial_fit 10x500"] = (stream, 3)
    return ops


def child():
    """Best time of each operation in this process, as JSON on stdout."""
    best = {}
    for name, (function, repeats) in operations().items():
        function()  # warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        best[name] = min(times)
    print(json.dumps(best))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", help="sklatent source trees")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child()
        return
    if not args.trees:
        parser.error("give at least one sklatent source tree")
    trees = [Path(tree).resolve() for tree in args.trees]
    for tree in trees:
        if not (tree / "sklatent" / "__init__.py").is_file():
            parser.error(f"{tree} holds no sklatent package")
    best = [{} for _ in trees]
    for _ in range(args.rounds):
        for index, tree in enumerate(trees):
            env = dict(os.environ, PYTHONPATH=str(tree))
            completed = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child"],
                capture_output=True,
                text=True,
                env=env,
                cwd=tree.parent,
                check=True,
            )
            times = json.loads(completed.stdout.strip().splitlines()[-1])
            for name, seconds in times.items():
                best[index][name] = min(seconds, best[index].get(name, float("inf")))
    names = [tree.name or str(tree) for tree in trees]
    print(f"best of {args.rounds} rounds, ms; change against {names[0]}\n")
    changes = [f"{name} vs {names[0]}" for name in names[1:]]
    print("| operation | " + " | ".join(names + changes) + " |")
    print("|---" * (2 * len(trees)) + "|")
    for name in best[0]:
        times = [b[name] for b in best]
        changes = [f"{100 * (t / times[0] - 1):+.1f}%" for t in times[1:]]
        cells = [f"{1e3 * t:.2f}" for t in times]
        print(f"| {name} | " + " | ".join(cells + changes) + " |")


if __name__ == "__main__":
    main()
