"""Command line of sklatent: ``python -m sklatent demo|migrate`` (also ``sklatent``).

``demo`` runs :func:`sklatent._cli.demo.run_demo` (``demo --text``:
:func:`sklatent._cli.demo_text.run_text_demo`, on two real text encoders);
``migrate`` runs the subcommands of :mod:`sklatent._cli.migrate`. This module
builds the one parser and holds the one error contract of every command
(:func:`run_command`): an input error (``ValueError``, a missing optional
package, an unusable file) is one line ``PROG: error: ...`` on stderr with
exit status 2, a warning is one line ``PROG: warning: ...``, and an interrupt
(Ctrl-C, or SIGTERM for ``migrate``) is one line with exit status 130.
"""

import argparse
import contextlib
import signal
import sys
import threading
import warnings

from .._backend import resolve_device
from .._version import __version__
from . import migrate
from .demo import MODALITIES, QUICK_ENCODERS, QUICK_IMAGES, run_demo
from .demo_text import run_text_demo

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


class UsageError(Exception):
    """An argparse usage error: exit status 2, one line.

    Its text is the whole line to print, ``"sklatent migrate fit: error: ..."``.
    """


def one_line_errors(parser):
    """Make ``parser`` raise :class:`UsageError` instead of printing its usage.

    argparse's own ``error`` prints the usage block, then the message, and
    exits; the contract is one line on stderr and exit status 2, which
    :func:`main` prints and returns.
    """

    def error(message):
        raise UsageError(f"{parser.prog}: error: {message} (see {parser.prog} --help)")

    parser.error = error
    return parser


def _one_line_warning(prog):
    """A ``warnings.showwarning`` that prints ``prog: warning: message``."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr if file is None else file)

    return show


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that files being written are removed."""

    status = 143  # 128 + SIGTERM, as a shell reports it


@contextlib.contextmanager
def _sigterm_interrupts():
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(prog, command, *, os_error_hint=""):
    """Call ``command()`` under the one error contract; return the exit status.

    Parameters
    ----------
    prog : str
        The command's name, first on every line printed.
    command : callable
        Runs the command; returns its exit status (None is 0).
    os_error_hint : str, default=""
        Appended to the line of an ``OSError`` (what to do about it).

    Returns
    -------
    int
        The command's status; 2 after an input error, 130 after an interrupt.
    """
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(prog)
            return command() or 0
    except (ValueError, ImportError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
    except OSError as exc:
        reason = f"{exc.strerror}: {exc.filename}" if exc.filename else exc
        print(f"{prog}: error: {reason}{os_error_hint}", file=sys.stderr)
    except KeyboardInterrupt as exc:  # files being written are already removed
        print(f"{prog}: interrupted", file=sys.stderr)
        return getattr(exc, "status", EXIT_INTERRUPTED)
    return EXIT_USAGE


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
        help=f"compare two encoders only ({', '.join(QUICK_ENCODERS)}; a "
        f"modality's first two); with --modality vision, {QUICK_IMAGES} images",
    )
    demo.add_argument(
        "--encoders",
        nargs="+",
        choices=[name for names, _ in MODALITIES.values() for name in names],
        metavar="NAME",
        help="encoders to compare, each once, among the modality's: "
        + "; ".join(
            f"{modality}: {', '.join(names)}"
            for modality, (names, _) in MODALITIES.items()
        )
        + " (default: all; a single one is only compared with itself)",
    )
    demo.add_argument(
        "--modality",
        choices=list(MODALITIES),
        default="digits",
        help="whose encoders: digits (images), audio (spoken words synthesised "
        "by espeak-ng, tested on voices no encoder heard), graph (the "
        "See-Also graph of numpy, scipy and scikit-learn; needs sklatent[text] "
        "unless cached) or vision (EfficientNet-Lite0 and Lite2 on "
        "Fashion-MNIST; needs sklatent[vision] and dataset-fashion-mnist); "
        "generation and the figure are the digits' (default: digits)",
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
        "about 3,600); with --modality vision: number of Fashion-MNIST images, "
        "30%% held out (default: 3,000)",
    )
    migrate.add_parser(commands, _positive_int, one_line_errors)
    return parser, demo


def _run(args):
    """Run the demo with the parsed arguments."""
    # An unusable device is a one-line error before any data is loaded.
    resolve_device(args.device)
    if args.text and args.modality != "digits":
        raise ValueError(
            f"--text and --modality {args.modality} choose two different demos: "
            "use one of them."
        )
    shared = {
        "seed": args.seed,
        "output_dir": args.output_dir,
        "data_home": args.data_home,
        "refresh": args.refresh,
    }
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
            **shared,
        )
        return
    if args.n_samples is not None and args.modality != "vision":
        raise ValueError(
            "--n-samples counts docstrings of the text demo or images of "
            "--modality vision: use it with --text or --modality vision."
        )
    run_demo(
        n_anchors=256 if args.n_anchors is None else args.n_anchors,
        device=args.device,
        quick=args.quick,
        encoders=args.encoders,
        figure=not args.no_figure,
        generation=not args.no_generation,
        modality=args.modality,
        n_samples=args.n_samples,
        **shared,
    )


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
    except UsageError as exc:  # one line, as the migrate contract says
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.command == "migrate":
        prog = f"sklatent migrate {args.migrate_command}"
        if unknown:
            print(
                f"{prog}: error: unrecognized arguments: {' '.join(unknown)}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        with _sigterm_interrupts():
            return run_command(
                prog, lambda: migrate.COMMANDS[args.migrate_command](args)
            )
    if unknown:
        # parse_args would report them with the top-level usage, which does not
        # list the demo's options.
        demo.error(f"unrecognized arguments: {' '.join(unknown)}")
    status = run_command(
        demo.prog,
        lambda: _run(args),
        os_error_hint=". Pass a writable folder as --output-dir (or --data-home).",
    )
    if status:
        demo.exit(status)  # the demo's errors exit, as argparse's own do
    return 0
