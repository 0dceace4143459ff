"""The instruction-level emulator of the vitc accelerator: decodes a `.vitb` binary and runs it,
functionally (bit-exact) and with a timing model (cycles, utilisation, trace)."""
