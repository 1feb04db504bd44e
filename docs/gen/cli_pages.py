"""mkdocs-gen-files script: the command-line reference, rendered from equimol's own argparse
parsers (``equimol.cli.main.build_parser``), so it always shows the options of the installed code."""

from __future__ import annotations

import argparse

import mkdocs_gen_files

from equimol.cli.main import COMMANDS, build_parser

WIDTH = 100  # help text wrapped at a fixed width, whatever the terminal of the build


def fixed_width(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    cls = parser.formatter_class
    parser.formatter_class = lambda prog, cls=cls: cls(prog, width=WIDTH, max_help_position=32)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


parser = fixed_width(build_parser())
commands = subcommands(parser)
lines = [
    "# Command line",
    "",
    "Generated at build time from the argument parsers in `equimol/cli/` (the output of",
    "`equimol COMMAND --help`). Errors are one line on stderr naming the file and the problem",
    "(exit status 2); `--debug` shows the traceback. Inside the clone's environment run them as",
    "`./run equimol COMMAND ...` or `.venv/bin/equimol COMMAND ...`.",
    "",
    "| command | what it does |",
    "|---|---|",
]
lines += [f"| [`equimol {name}`](#equimol-{name}) | {COMMANDS[name][1]} |" for name in commands]
lines += ["", "## `equimol`", "", "```text", parser.format_help().rstrip(), "```", ""]
for name, sub in commands.items():
    lines += [
        f"## `equimol {name}` {{#equimol-{name}}}",
        "",
        "```text",
        fixed_width(sub).format_help().rstrip(),
        "```",
        "",
    ]
lines += [
    "## Data-parallel training",
    "",
    "`equimol train` runs under `torchrun` unchanged; each process trains on its share of the",
    "batches (see the [multi-process tutorial](../tutorials/distributed-hdf5.md)):",
    "",
    "```text",
    "torchrun --nproc_per_node 2 -m equimol.cli.main train CONFIG",
    "```",
    "",
]
with mkdocs_gen_files.open("reference/cli.md", "w") as f:
    f.write("\n".join(lines))
