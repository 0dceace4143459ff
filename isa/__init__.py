"""The target ISA: hardware configurations, the instruction table, encoder/decoder,
assembler/disassembler and the `.vitb` binary container.

This package is the lowest layer of vitc: the compiler and the emulator both depend on it,
it depends on neither.
"""
