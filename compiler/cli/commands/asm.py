"""`vitc asm`: assemble a vitc assembly source into a `.vitb` binary.

The source may set its target with `.target`; `--hw` sets it (or must agree with it). The output
is written atomically, so a failed run never leaves a half-written binary.
"""

from pathlib import Path

from isa.assembler import assemble_binary
from isa.config import load_config
from isa.container import save_vitb
from isa.errors import VitcError

NAME = "asm"
HELP = "assemble a vitc assembly file (.s) into a .vitb binary"


def add_arguments(parser) -> None:
    parser.add_argument("source", metavar="FILE.s", help="the assembly source")
    parser.add_argument("-o", "--output", metavar="OUT.vitb",
                        help="the binary to write (default: FILE.vitb next to the source)")
    parser.add_argument("--hw", metavar="CONFIG",
                        help="target hardware configuration (name or .toml path); default: the source's .target")


def run(args) -> int:
    source = Path(args.source)
    try:
        text = source.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise VitcError(f"{source}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    config = load_config(args.hw) if args.hw else None
    binary = assemble_binary(text, source=str(source), config=config)
    save_vitb(args.output or source.with_suffix(".vitb"), binary)
    return 0
