"""Functional semantics of every instruction, one module per instruction family.

Each semantic function is `f(machine, fields) -> None`: it reads and writes `Machine` memories
through `regions.py`, with `fields` the decoded field values (`isa.encoding` canonical form:
enums as integer codes, float32 immediates as Python floats). It assumes the instruction has
passed `footprint.check_bounds`. `program.SEMANTICS` maps each mnemonic to its function.
"""
