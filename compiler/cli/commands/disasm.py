"""`vitc disasm`: print a `.vitb` binary as vitc assembly.

The output is a complete source (directives, code, constant data) that `vitc asm` turns back
into the identical binary; each instruction carries its byte offset in a comment, and with
`--show-encoding` its encoding as hex bytes (like `llvm-objdump -d`). `--no-data` leaves the
constant data out (the output then no longer re-assembles to the same binary).
"""

import sys

from isa.container import load_vitb
from isa.disassembler import disassemble_binary

NAME = "disasm"
HELP = "print a .vitb binary as re-assemblable vitc assembly"


def add_arguments(parser) -> None:
    parser.add_argument("binary", metavar="FILE.vitb", help="the binary to disassemble")
    parser.add_argument("--show-encoding", action="store_true",
                        help="add each instruction's encoding (hex bytes) to its comment")
    parser.add_argument("--no-data", action="store_true",
                        help="omit the constant data (weights); the listing then does not re-assemble")


def run(args) -> int:
    sys.stdout.write(disassemble_binary(load_vitb(args.binary), show_encoding=args.show_encoding,
                                        with_data=not args.no_data))
    return 0
