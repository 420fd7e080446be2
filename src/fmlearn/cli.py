"""The ``fmlearn`` command line: a thin layer over the Python API.

Built on argparse: it ships with Python (no dependency for a console script), gives
``--help`` for every subcommand and exit code 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from fmlearn.demo import format_demo, run_demo

    results, info = run_demo(n_samples=args.rows, random_state=args.seed, verbose=args.verbose)
    print(format_demo(results, info))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fmlearn import __version__

    parser = argparse.ArgumentParser(
        prog="fmlearn", description="Factorization Machines: train, predict, evaluate."
    )
    parser.add_argument("--version", action="version", version=f"fmlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="train on generated recommendation data and compare with a linear model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--rows", type=int, default=200_000, help="rows to generate")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--verbose", type=int, default=0, help="1: one line per epoch")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "rows", 1) < 100:
        print("fmlearn demo: --rows must be at least 100", file=sys.stderr)
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
