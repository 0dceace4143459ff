"""Reading and writing `.vir` files.

Writes are atomic (a temporary file in the same directory, then a rename), so a failed or
interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from compiler.ir.errors import IRError
from isa.files import write_file_atomically
from compiler.ir.graph import Graph
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph


def read_vir(path: str | os.PathLike) -> Graph:
    """Parse and verify the graph in a `.vir` file; the path `-` reads standard input."""
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        data = sys.stdin.buffer.read() if name == "<stdin>" else Path(path).read_bytes()
        text = data.decode("utf-8")
    except OSError as err:
        raise IRError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise IRError(f"{name}: not UTF-8 text (byte offset {err.start})") from None
    return parse_graph(text, filename=name)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file and a rename."""
    write_file_atomically(path, text.encode("utf-8"))


def write_vir(graph: Graph, path: str | os.PathLike, elide_constants: bool = False) -> None:
    write_text_atomic(path, print_graph(graph, elide_constants))


def emit_graph(graph: Graph, output: str | os.PathLike | None, elide_constants: bool = False) -> None:
    """The result of a command: `.vir` text, or the machine code once the graph was lowered
    (`graph.machine`), to `output` (atomically) or to stdout when None."""
    text = graph.machine.to_text() if graph.machine is not None else print_graph(graph, elide_constants)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_text_atomic(output, text)
