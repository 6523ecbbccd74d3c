"""Command line of sklatent: ``python -m sklatent demo`` (also ``sklatent demo``).

``demo --text`` runs :func:`sklatent._demo_text.run_text_demo` instead, on
two real text encoders.

The experiment, its table and its figure live in :mod:`sklatent._demo`. This
module only parses the arguments, calls :func:`sklatent._demo.run_demo`, and
reports bad arguments and unwritable folders as one-line errors with exit
status 2, and warnings (such as a damaged cache file being rebuilt) as one
line each.
"""

import argparse
import sys
import warnings

from . import __version__, _migrate_cli
from ._backend import resolve_device
from ._demo import _QUICK_ENCODERS, run_demo
from ._demo_text import run_text_demo
from .datasets import ENCODER_NAMES


def _positive_int(text):
    """Parse a count; argparse prints the message after the option's name."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="sklatent",
        description="sklatent: latent communication between embedding spaces.",
    )
    parser.add_argument(
        "--version", action="version", version=f"sklatent {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="zero-shot stitching of classifiers across digit encoders",
        description=(
            "Train (or load from the cache) small torch encoders of the digits "
            "dataset, fit a classifier on each, and print the test accuracy of "
            "every classifier on every encoder: its own, reused naively, "
            "stitched through relative representations, and through latent "
            "translation. Then the same for generation: the reconstruction "
            "error of each encoder's decoder on every other encoder, naively, "
            "translated and inverse-projected, and of relative autoencoders "
            "across seeds. Saves the tables (CSV) and figures (PNG)."
        ),
    )
    demo.add_argument(
        "--n-anchors",
        type=_positive_int,
        default=None,
        help="number of parallel anchors (default: 256; 300 with --text)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the encoders, the split and the anchors, between 0 and "
        "2**32 - 1 (default: 0)",
    )
    demo.add_argument(
        "--output-dir",
        default="sklatent_demo_output",
        help="folder for the tables and the figures, created once the run has "
        "succeeded; '.' is the working directory (default: ./sklatent_demo_output)",
    )
    demo.add_argument(
        "--device",
        default="cpu",
        help="torch device: cpu, cuda, cuda:N, mps or auto (default: cpu)",
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help=f"compare two encoders only ({', '.join(_QUICK_ENCODERS)})",
    )
    demo.add_argument(
        "--encoders",
        nargs="+",
        choices=ENCODER_NAMES,
        metavar="NAME",
        help=f"encoders to compare, each once, among {', '.join(ENCODER_NAMES)} "
        "(default: all; a single one is only compared with itself)",
    )
    demo.add_argument(
        "--data-home",
        help="cache folder of the embeddings (default: $SKLATENT_DATA_HOME or "
        "~/.cache/sklatent)",
    )
    demo.add_argument(
        "--refresh",
        action="store_true",
        help="retrain every network and overwrite its cached file (a damaged "
        "file is rebuilt without it)",
    )
    demo.add_argument("--no-figure", action="store_true", help="do not save the figure")
    demo.add_argument(
        "--no-generation",
        action="store_true",
        help="skip stitched generation (decoders across encoders, relative "
        "autoencoders across seeds) and its table and figure",
    )
    demo.add_argument(
        "--text",
        action="store_true",
        help="stitch a classifier of docstrings across two real text encoders "
        "(MiniLM and a static model) instead of the digit encoders; needs "
        "sklatent[text] unless the embeddings are cached",
    )
    demo.add_argument(
        "--n-samples",
        type=_positive_int,
        help="with --text: number of docstrings (default: the whole corpus, "
        "about 3,600)",
    )
    _migrate_cli.add_parser(commands, _positive_int)
    return parser, demo


def _run(args):
    """Run the demo with the parsed arguments."""
    # An unusable device is a one-line error before any data is loaded.
    resolve_device(args.device)
    if args.text:
        digits_only = [
            option
            for option, given in (
                ("--quick", args.quick),
                ("--encoders", args.encoders),
            )
            if given
        ]
        if digits_only:
            raise ValueError(
                f"{' and '.join(digits_only)} choose(s) digit encoders, which "
                "--text does not use: drop them, or drop --text."
            )
        run_text_demo(
            n_anchors=300 if args.n_anchors is None else args.n_anchors,
            n_samples=args.n_samples,
            seed=args.seed,
            output_dir=args.output_dir,
            data_home=args.data_home,
            refresh=args.refresh,
        )
        return
    if args.n_samples is not None:
        raise ValueError(
            "--n-samples counts docstrings of the text demo: use it with --text."
        )
    run_demo(
        n_anchors=256 if args.n_anchors is None else args.n_anchors,
        seed=args.seed,
        output_dir=args.output_dir,
        device=args.device,
        quick=args.quick,
        encoders=args.encoders,
        data_home=args.data_home,
        refresh=args.refresh,
        figure=not args.no_figure,
        generation=not args.no_generation,
    )


def _one_line_warning(prog):
    """A ``warnings.showwarning`` that prints ``prog: warning: message``."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr if file is None else file)

    return show


def main(argv=None):
    """Entry point of ``python -m sklatent`` and of the ``sklatent`` script.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status.
    """
    parser, demo = _parser()
    try:
        args, unknown = parser.parse_known_args(argv)
    except _migrate_cli.UsageError as exc:  # one line, as the migrate contract says
        print(exc, file=sys.stderr)
        return 2
    if unknown and args.command == "migrate":
        print(
            f"sklatent migrate {args.migrate_command}: error: unrecognized arguments: "
            f"{' '.join(unknown)}",
            file=sys.stderr,
        )
        return 2
    if args.command == "migrate":
        return _migrate_cli.run(args, parser)
    if unknown:
        # parse_args would report them with the top-level usage, which does not
        # list the demo's options.
        demo.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "demo":
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning(demo.prog)
                _run(args)
        except (ValueError, ImportError) as exc:
            demo.exit(2, f"{demo.prog}: error: {exc}\n")
        except OSError as exc:
            reason = f"{exc.strerror}: {exc.filename}" if exc.filename else exc
            demo.exit(
                2,
                f"{demo.prog}: error: {reason}. Pass a writable folder as "
                "--output-dir (or --data-home).\n",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
