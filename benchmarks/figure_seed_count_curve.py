"""The figure of the seed-count curve in docs/matching.rst (issue 31, part 4).

Reads the cells that ``bench_functional_maps.py --only curve --json PATH``
measured (see its docstring and the commands in docs/matching.rst, "How many
anchors?") and draws, for each pair of spaces, the MRR of the held-out items
against the number of seeds (log axis; 0 seeds at the left, where
``"auto"`` is the seed-free matching), one line per method (``"auto"``,
the default, races the others and the seed-free one), the ceiling
(the map fitted on every true pair) dashed. A hollow marker is a matching
that warned (:class:`~sklatent.matching.MatchingWarning`: not trusted). The
lines are the seeds of draw 0, those of the tables; other draws of the seeds,
where measured, are the small dots of the same colour. Nothing is measured
here. ``--tables`` prints the tables of docs/matching.rst from the same
cells instead: draw 0 of each pair (MRR / top-1, "!" warned), and for the
pairs with several draws the mean MRR over them, its range, and how many
warned.

    python benchmarks/figure_seed_count_curve.py
    python benchmarks/figure_seed_count_curve.py --tables
"""

import argparse
import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
TITLES = {
    "digits same": "digits, one architecture (mlp_small, two seeds)",
    "digits cross": "digits, two architectures (mlp_small, cnn)",
    "text": "texts, MiniLM and the static model",
    "glove": "words, MiniLM and GloVe",
}
STYLES = {
    "procrustes": ("Procrustes on the seeds", "#555555", "s"),
    "refine": ('"refine"', "#1f77b4", "o"),
    "bootstrap": ('"bootstrap"', "#2ca02c", "^"),
    "functional_map": ('"functional_map"', "#d62728", "D"),
    "auto": ('"auto", the race (0 seeds: seed-free)', "#9467bd", "*"),
}
# The methods' points side by side around their seed count (log axis), so
# that those on one another at the ceiling stay visible.
DODGE = 1.12


def _points(ax, cells, color, marker, size, shift=1.0):
    """Filled markers for trusted matchings, hollow ones for those that warned."""
    for warned in (False, True):
        shown = [c for c in cells if c["warned"] == warned]
        ax.scatter(
            [c["seeds"] * shift for c in shown],
            [c["mrr"] for c in shown],
            marker=marker,
            s=size,
            facecolors="white" if warned else color,
            edgecolors=color,
            linewidths=1.2,
            zorder=3,
        )


def _plot_pair(ax, name, pair):
    cells = pair["cells"]
    ax.axhline(pair["ceiling"]["mrr"], color="black", linestyle="--", linewidth=1)
    for i, (method, (_, color, marker)) in enumerate(STYLES.items()):
        shift = DODGE ** (i - (len(STYLES) - 1) / 2)
        mine = [c for c in cells if c["method"] == method and c["seeds"] > 0]
        main = sorted((c for c in mine if c["draw"] == 0), key=lambda c: c["seeds"])
        ax.plot(
            [c["seeds"] * shift for c in main],
            [c["mrr"] for c in main],
            color=color,
            linewidth=1.2,
        )
        _points(ax, main, color, marker, 30, shift)
        others = [c for c in mine if c["draw"] != 0]
        ax.scatter(
            [c["seeds"] * shift for c in others],
            [c["mrr"] for c in others],
            marker=".",
            s=14,
            color=color,
            alpha=0.6,
            zorder=2,
        )
    seed_free = [c for c in cells if c["seeds"] == 0 and c["draw"] == 0]
    _points(ax, seed_free, STYLES["auto"][1], STYLES["auto"][2], 90)
    counts = sorted({c["seeds"] for c in cells})
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xlim(-0.3, max(counts) * 1.5)
    ax.set_ylim(0, 1)
    ax.set_xlabel("seeds (known pairs)")
    ax.set_ylabel(f"MRR among {pair['held_out']:,} held-out items")
    ax.set_title(f"{TITLES.get(name, name)}; pools of {pair['pool']:,}", fontsize=10)
    ax.grid(alpha=0.3)


def _legend():
    """Handles and labels: the methods, the ceiling, warned, other draws."""
    handles = [
        Line2D([], [], color=color, marker=marker, label=label)
        for label, color, marker in STYLES.values()
    ]
    handles += [
        Line2D([], [], color="black", linestyle="--", label="ceiling: all true pairs"),
        Line2D(
            [],
            [],
            color="black",
            marker="o",
            markerfacecolor="white",
            linestyle="",
            label="hollow: warned, not trusted",
        ),
        Line2D(
            [],
            [],
            color="black",
            marker=".",
            linestyle="",
            alpha=0.6,
            label="other draws of the seeds",
        ),
    ]
    return handles


def draw(results, path):
    names = [name for name in TITLES if name in results] + [
        name for name in results if name not in TITLES
    ]
    n_cols = min(2, len(names))
    n_rows = -(-len(names) // n_cols)
    fig = Figure(figsize=(5.4 * n_cols, 3.6 * n_rows + 0.7), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        _plot_pair(ax, name, results[name])
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    fig.legend(handles=_legend(), loc="outside lower center", ncols=4, fontsize=9)
    fig.savefig(path, dpi=110)


TABLE_METHODS = ("procrustes", "refine", "bootstrap", "functional_map")


def _grid(header, rows):
    """A reStructuredText simple table of the rows under the header."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = [
        rule,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        rule,
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    ]
    return "\n".join(line.rstrip() for line in [*lines, rule])


def draw_zero_table(pair):
    """Draw 0 of one pair: MRR / top-1 of each method at each seed count."""
    cells = {(c["seeds"], c["method"]): c for c in pair["cells"] if c["draw"] == 0}
    rows = []
    for count in sorted({seeds for seeds, _ in cells}):
        if count == 0:
            seed_free = cells[(0, "auto")]
            row = ["\\-"] * (len(TABLE_METHODS) - 1) + [_cell(seed_free)]
        else:
            row = [_cell(cells[(count, m)]) for m in TABLE_METHODS]
        rows.append([str(count), *row])
    return _grid(["seeds", "Procrustes", *TABLE_METHODS[1:]], rows)


def _cell(cell):
    mark = " !" if cell["warned"] else ""
    return f"{cell['mrr']:.3f} / {cell['top1']:.3f}{mark}"


def draws_table(pair, methods=(*TABLE_METHODS, "auto")):
    """Mean MRR over the draws (lowest-highest) and the number that warned."""
    rows = []
    for count in sorted({c["seeds"] for c in pair["cells"] if c["seeds"] > 0}):
        row = [str(count)]
        for method in methods:
            mine = [
                c
                for c in pair["cells"]
                if c["seeds"] == count and c["method"] == method
            ]
            mrr = [c["mrr"] for c in mine]
            warned = sum(c["warned"] for c in mine)
            text = f"{sum(mrr) / len(mrr):.3f} ({min(mrr):.3f}-{max(mrr):.3f})"
            row.append(text + (f" {warned}!" if warned else ""))
        rows.append(row)
    return _grid(["seeds", "Procrustes", *methods[1:]], rows)


def tables(results):
    for name, pair in results.items():
        print(
            f"\n{name}: ceiling MRR {pair['ceiling']['mrr']:.3f}, "
            f"top-1 {pair['ceiling']['top1']:.3f}\n"
        )
        print(draw_zero_table(pair))
        if len({c["draw"] for c in pair["cells"]}) > 1:
            print(f"\n{name}, every draw:\n")
            print(draws_table(pair))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=IMAGES / "seed_count_curve.json")
    parser.add_argument("--out", type=Path, default=IMAGES / "seed_count_curve.png")
    parser.add_argument(
        "--tables", action="store_true", help="print the docs' tables, draw nothing"
    )
    args = parser.parse_args()
    results = json.loads(args.json.read_text())
    if args.tables:
        tables(results)
        return
    draw(results, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
