"""The command-line flags of the pass manager, shared by every `vitc` subcommand that runs passes.

`add_pass_arguments(parser)` declares `-p/--pipeline`, `--list-passes`, the instrumentation flags
(`--print-ir-after-all`, `--print-ir-after=PASS`, `--print-ir-before=PASS`, `--dump-dir D`,
`--verify-each`, `--time-passes`, `--elide-constants`) and `--debug-only=PASS[,PASS]`;
`pass_manager_from_args(args)` turns them into a configured `PassManager` (and switches on the
`vitc.<pass>` loggers), raising `PipelineError` for an unknown pass anywhere in them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from compiler.ir.errors import PipelineError
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.passes import registered_passes
from compiler.ir.pipeline import parse_pipeline


def _names(values: list[str] | None) -> list[str]:
    """Flags given several times and/or comma separated -> one list of names."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def add_pass_arguments(parser: argparse.ArgumentParser, pipeline_default: str | None = "",
                       default_help: str = "") -> None:
    """Declare the pass flags; `pipeline_default` None lets the caller fill the pipeline in after
    parsing (`default_help` then says what it will be)."""
    group = parser.add_argument_group("passes")
    group.add_argument("-p", "--pipeline", default=pipeline_default, metavar="PIPELINE",
                       help='passes to run, e.g. "dce,fold-constants{max-elements=1024}" '
                            f'(known: {", ".join(registered_passes())}; --list-passes describes them)'
                            + (f"; {default_help}" if default_help else ""))
    group.add_argument("--list-passes", action=_ListPasses, help="describe every pass and its options, then exit")
    group.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass (stderr)")
    group.add_argument("--print-ir-after", action="append", metavar="PASS", help="print the IR after PASS")
    group.add_argument("--print-ir-before", action="append", metavar="PASS", help="print the IR before PASS")
    group.add_argument("--dump-dir", type=Path, metavar="DIR",
                       help="write the IR before the first pass and after each pass to DIR/NN-PASS.vir")
    group.add_argument("--verify-each", action="store_true",
                       help="run the verifier and the text round trip after every pass")
    group.add_argument("--time-passes", action="store_true", help="print how long each pass took (stderr)")
    group.add_argument("--elide-constants", action="store_true",
                       help="print large constants as dense<elided N bytes> (the text no longer parses)")
    group.add_argument("--debug-only", action="append", metavar="PASS",
                       help="debug log of the named passes (loggers vitc.PASS) on stderr")


class _ListPasses(argparse.Action):
    """`--list-passes`: every pass with its level, summary and options (type and default)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(list_passes())
        parser.exit(0)


def list_passes() -> str:
    lines = []
    for name, cls in registered_passes().items():
        lines.append(f"{name} ({cls.level}): {cls.summary()}")
        defaults = cls().option_values()
        for option, option_type in cls.options().items():
            default = defaults[option]
            shown = ("true" if default else "false") if isinstance(default, bool) else default
            lines.append(f"    {option}: {option_type.__name__} = {shown}")
    return "\n".join(lines) + "\n"


def _check_known(flag: str, names: list[str]) -> None:
    known = registered_passes()
    for name in names:
        if name not in known:
            raise PipelineError(f"{flag}: unknown pass '{name}' (known passes: {', '.join(known)})")


def _enable_debug_logging(names: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    for name in names:
        logger = logging.getLogger(f"vitc.{name}")
        logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            logger.addHandler(handler)


def pass_manager_from_args(args: argparse.Namespace) -> PassManager:
    after, before, debug = _names(args.print_ir_after), _names(args.print_ir_before), _names(args.debug_only)
    _check_known("--print-ir-after", after)
    _check_known("--print-ir-before", before)
    _check_known("--debug-only", debug)
    passes = parse_pipeline(args.pipeline)
    _enable_debug_logging(debug)
    instrumentation = Instrumentation(
        print_ir_after_all=args.print_ir_after_all,
        print_ir_after=frozenset(after),
        print_ir_before=frozenset(before),
        dump_dir=args.dump_dir,
        verify_each=args.verify_each,
        time_passes=args.time_passes,
        elide_constants=args.elide_constants,
    )
    return PassManager(passes, instrumentation)
