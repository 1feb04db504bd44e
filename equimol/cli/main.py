"""``equimol`` command line: one small module per command; errors as one line on stderr."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

# command -> module with add_arguments(parser) and run(args) -> int
COMMANDS = {
    "train": ("equimol.cli.train", "train a model from a YAML config"),
    "evaluate": ("equimol.cli.evaluate", "MAE/RMSE of a checkpoint on a data file"),
    "predict": ("equimol.cli.predict", "predict properties of structures"),
    "convert": ("equimol.cli.convert", "convert a dataset to extxyz or the HDF5 store"),
    "label": ("equimol.cli.label", "label structures with GFN2-xTB (tblite)"),
    "sample": ("equimol.cli.sample", "generate structures: normal modes, MD, PIMD, torsion scans"),
    "active-learn": ("equimol.cli.active_learn", "query-by-committee active learning with xTB labels"),
    "md": ("equimol.cli.md", "molecular dynamics / ring-polymer MD with a model"),
    "spectrum": ("equimol.cli.spectrum", "IR, Raman and power spectra from an MD trajectory"),
    "demo": ("equimol.cli.demo", "the main job: data, training, MD, spectra, plots"),
    "ipi-driver": ("equimol.cli.ipi_driver", "serve forces to i-PI over a socket"),
    "benchmark": ("equimol.cli.benchmark", "time models: energy+forces, MD, training step"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="equimol", description="Equivariant neural networks for molecules.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks"
        )
        try:
            importlib.import_module(module).add_arguments(p)
        except ModuleNotFoundError:
            sub._name_parser_map.pop(name, None)
            sub._choices_actions = [a for a in sub._choices_actions if a.dest != name]
    return parser


def _one_line_warning(command: str, default):
    """Show equimol's data warnings as one line on stderr; other warnings as Python does."""
    from equimol.errors import DataWarning, ExtrapolationWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, (DataWarning, ExtrapolationWarning)):
            print(f"equimol {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 1
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        with warnings.catch_warnings():  # restored on return: the CLI only formats its own warnings
            warnings.showwarning = _one_line_warning(args.command, warnings.showwarning)
            return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("equimol: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line unless --debug
        if getattr(args, "debug", False):
            raise
        from equimol.errors import EquimolError

        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if not isinstance(e, (EquimolError, FileNotFoundError, PermissionError, OSError, ValueError)):
            msg = f"{type(e).__name__}: {msg} (rerun with --debug for the traceback)"
        print(f"equimol {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
