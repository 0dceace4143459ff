"""Entry point of the `vitc` command.

Discovers the subcommand modules in `compiler.cli.commands`, dispatches to one, and turns a
`VitcError` into one clear message on stderr with exit status 1 (never a traceback).
"""

import argparse
import importlib
import pkgutil
import sys

from isa.errors import VitcError
from compiler.cli import commands


def _subcommand_modules():
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{commands.__name__}.{name}") for name in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitc",
        description="Compile int8-quantized Vision Transformers to the vitc accelerator ISA and emulate them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in sorted(_subcommand_modules(), key=lambda m: m.NAME):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except VitcError as err:
        print(f"vitc: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vitc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
