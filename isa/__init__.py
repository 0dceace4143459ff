"""The target ISA: hardware configurations, the instruction table, encoder/decoder,
assembler/disassembler and the `.vitb` binary container.

This package is the lowest layer of vitc: the compiler and the emulator both depend on it,
it depends on neither.

Modules:
- `config`: `load_config(name_or_path) -> HardwareConfig` (files in `configs/`);
- `instructions.toml` + `table`: the one instruction table, `load_table() -> InstructionTable`;
- `encoding`: `Instruction`, `encode`, `decode`, `encode_program`, `decode_program`;
- `assembler` (grammar in `assembly.lark`) and `disassembler`: text <-> instructions/binaries;
- `container`: the `.vitb` format, `Binary`, `IOEntry`, `write_vitb`, `read_vitb`;
- `docgen`: `python -m isa.docgen` writes docs/isa.md from the above;
- `errors`: `VitcError`.
"""
