"""Hardware configurations derived from a base configuration by overriding some fields.

`derive_config(base, **overrides)` starts from every parameter of `base` (e.g. the default
configuration's file, `load_config("default")`), replaces the given ones and builds the result
through `isa.config.config_from_dict`, so a derived machine is checked exactly like one read
from a file (positive values, whole rows, 16-bit row addresses). Its `name` says what changed
(`default+dim=32,spad_kib=512`), and its `hash` is that of its parameters, so a binary
compiled for it runs only on it.

`sweep_overrides(base, dim, spad_kib, acc_kib)` is what a design-space point changes: the array
size and the two on-chip memories, with the matrix engine's pipeline fill/drain latency scaled
with the array (the configuration files set it to `2 * dim`); the DMA and the clock stay.
"""

import dataclasses

from isa.config import HardwareConfig, config_from_dict
from isa.errors import VitcError


def derive_config(base: HardwareConfig, **overrides) -> HardwareConfig:
    """`base` with `overrides` (field name -> value); an unknown field or a bad value is a VitcError."""
    known = {f.name for f in dataclasses.fields(HardwareConfig)} - {"name"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise VitcError(f"hardware config override: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    changed = {key: value for key, value in overrides.items() if getattr(base, key) != value}
    name = base.name + ("+" + ",".join(f"{key}={value}" for key, value in changed.items()) if changed else "")
    data = {**dataclasses.asdict(base), **overrides, "name": name}
    return config_from_dict(data, source=name)


def sweep_overrides(base: HardwareConfig, dim: int, spad_kib: int, acc_kib: int) -> dict:
    """The overrides of one sweep point (see the module docstring)."""
    return {"dim": dim, "spad_kib": spad_kib, "acc_kib": acc_kib,
            "mm_latency": max(1, base.mm_latency * dim // base.dim)}
