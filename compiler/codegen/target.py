"""The hardware configuration a backend pass plans for, named by a string pass option.

Backend passes (`fuse-elementwise`, `tile-matmul`) take `hw=NAME`: a built-in configuration
name, a TOML path, or the sha256 `hash` of a configuration this process compiled for
(`target_option(config)` records it), which is how the driver hands a derived configuration
(e.g. a point of a design-space sweep) to its passes. Invariant: `resolve_target(
target_option(config))` has the hash of `config`.
"""

from __future__ import annotations

from isa.config import HardwareConfig, builtin_config_names, load_config

_known_by_hash: dict[str, HardwareConfig] = {}


def target_option(config: HardwareConfig) -> str:
    """The `hw` option value naming `config`: its built-in name when that is the same machine,
    else its hash (remembered for `resolve_target`)."""
    if config.name in builtin_config_names() and load_config(config.name).hash == config.hash:
        return config.name
    _known_by_hash[config.hash] = config
    return config.hash


def resolve_target(hw: str) -> HardwareConfig:
    """The configuration an `hw` option names (a `VitcError` for an unknown one)."""
    if hw in _known_by_hash:
        return _known_by_hash[hw]
    return load_config(hw)
