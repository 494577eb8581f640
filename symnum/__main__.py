"""Command line: `python -m symnum demo [--n N] [--seed S] [--dense-fd]`,
`python -m symnum cache info|clear`, `python -m symnum --version`.

Parses arguments and hands over to `symnum.demo`; it must never hold logic of its own, so the
tests exercise the same code by calling `main(argv)`.
"""

from __future__ import annotations

import argparse
import sys


def _positive_grid(text: str) -> int:
    n = int(text)
    if n < 3:
        raise argparse.ArgumentTypeError(f"the grid needs at least 3 points per side, got {n}")
    return n


def _version() -> str:
    from symnum import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser.

    >>> build_parser().parse_args(["demo", "--n", "8"]).n
    8
    """
    parser = argparse.ArgumentParser(
        prog="python -m symnum",
        description="symnum: trace numpy code into symbolic graphs, simplify, evaluate, compile.",
    )
    parser.add_argument("--version", action="version", version=f"symnum {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="trace, simplify and evaluate the 2D Brusselator right-hand side",
        description="Trace the 2D Brusselator reaction-diffusion right-hand side on an n x n grid, "
        "simplify it, evaluate it against the numpy code, and print a table of the stages.",
    )
    demo.add_argument("--n", type=_positive_grid, default=32, metavar="N",
                      help="grid points per side (default: 32)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the random test state")
    demo.add_argument("--dense-fd", action="store_true",
                      help="also integrate with numpy + dense finite-difference Jacobians "
                      "(the baseline plain code gets; minutes at n = 32)")
    cache = sub.add_parser(
        "cache", help="show or empty the compiled-kernel cache",
        description="The compiled-kernel cache: $XDG_CACHE_HOME/symnum/kernels, else "
        "~/.cache/symnum/kernels. 'info' shows where it is, whether it is private, and what it "
        "holds; 'clear' deletes its kernels (not the per-user secret).")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--dir", default=None, metavar="FOLDER",
                       help="a cache folder given to compile(cache_dir=...) instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 = every check passed)."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from symnum.demo import main as demo_main

        return demo_main(args.n, args.seed, dense_fd=args.dense_fd)
    if args.command == "cache":
        from symnum.backends import kernel_cache

        if args.action == "info":
            print(kernel_cache.format_cache_info(kernel_cache.cache_info(args.dir)))
        else:
            n = kernel_cache.cache_clear(args.dir)
            print(f"removed {n} file(s) from {args.dir or kernel_cache.default_cache_dir()}")
        return 0
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects others


if __name__ == "__main__":
    sys.exit(main())
