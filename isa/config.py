"""Hardware configurations: one TOML file per accelerator, loaded into a frozen dataclass.

`load_config("default" | "large" | path)` reads a file from `isa/configs/` (or any path) and
returns a `HardwareConfig`. Every size the compiler and the emulator use derives from it, so
they cannot disagree; it is passed explicitly, never held in a module-level global.

Invariants kept here:
- a file must name exactly the parameters of `HardwareConfig` (no missing, no unknown keys),
  with the right types and positive values; memories must hold whole rows and every on-chip row
  must be addressable by the ISA's 16-bit row fields;
- `hash` is the hex sha256 of the canonical JSON of the machine parameters (everything except
  `name`), so two files describing the same machine have the same hash, and a binary records
  which machine it was built for.
"""

import dataclasses
import hashlib
import json
import tomllib
from pathlib import Path

from isa.errors import VitcError

CONFIG_DIR = Path(__file__).parent / "configs"

# On-chip row addresses are 16-bit instruction fields (see isa/instructions.toml).
MAX_ONCHIP_ROWS = 1 << 16


@dataclasses.dataclass(frozen=True)
class HardwareConfig:
    """One accelerator: array size, memories, DMA, latencies, clock."""

    name: str
    dim: int  # matrix engine is dim x dim; on-chip rows are dim elements wide
    spad_kib: int  # scratchpad capacity (int8/uint8 rows of dim bytes)
    acc_kib: int  # accumulator capacity (rows of dim 32-bit words)
    dma_bytes_per_cycle: int  # each direction
    dma_latency: int  # fixed start-up cycles per DMA instruction
    mm_latency: int  # matrix-engine pipeline fill/drain cycles
    vector_latency: int  # vector-unit start-up cycles per instruction
    clock_ghz: float  # only to turn cycles into frames per second
    token_queue_depth: int  # capacity of each dependency-token queue

    @property
    def spad_bytes(self) -> int:
        return self.spad_kib * 1024

    @property
    def acc_bytes(self) -> int:
        return self.acc_kib * 1024

    @property
    def spad_row_bytes(self) -> int:
        return self.dim

    @property
    def acc_row_bytes(self) -> int:
        return 4 * self.dim

    @property
    def spad_rows(self) -> int:
        return self.spad_bytes // self.spad_row_bytes

    @property
    def acc_rows(self) -> int:
        return self.acc_bytes // self.acc_row_bytes

    @property
    def macs_per_cycle(self) -> int:
        return self.dim * self.dim

    def parameters(self) -> dict:
        """The machine parameters (every field but `name`), the input of `hash`."""
        params = dataclasses.asdict(self)
        del params["name"]
        return params

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.parameters(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def builtin_config_names() -> list[str]:
    """Names accepted by `load_config` besides paths, sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def load_config(name_or_path) -> HardwareConfig:
    """Load a built-in configuration by name ("default", "large") or a TOML file by path."""
    path = _resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        raise VitcError(f"hardware config {path}: cannot read: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise VitcError(f"hardware config {path}: invalid TOML: {err}") from None
    return config_from_dict(data, source=str(path))


def _resolve(name_or_path) -> Path:
    text = str(name_or_path)
    if text in builtin_config_names():
        return CONFIG_DIR / f"{text}.toml"
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        return path
    raise VitcError(
        f"hardware config {text!r}: not a built-in name ({', '.join(builtin_config_names())}) nor a file"
    )


def config_from_dict(data: dict, source: str = "<dict>") -> HardwareConfig:
    """Check a parsed configuration and build the dataclass; errors name `source` and the key."""
    fields = {f.name: f for f in dataclasses.fields(HardwareConfig)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise VitcError(f"hardware config {source}: unknown parameter(s) {', '.join(unknown)}")
    missing = [name for name in fields if name not in data]
    if missing:
        raise VitcError(f"hardware config {source}: missing parameter(s) {', '.join(missing)}")
    for name, field in fields.items():
        _check_type(source, name, data[name], field.type)
    # An integer written for a float parameter must hash like the float it means.
    values = {name: float(data[name]) if field.type is float else data[name] for name, field in fields.items()}
    config = HardwareConfig(**values)
    _check_sizes(source, config)
    return config


def _check_type(source: str, name: str, value, expected) -> None:
    if expected is str:
        if not isinstance(value, str) or not value:
            raise VitcError(f"hardware config {source}: {name} must be a non-empty string, got {value!r}")
        return
    allowed = (int, float) if expected is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed) or not value > 0:
        kind = "a positive number" if expected is float else "a positive integer"
        raise VitcError(f"hardware config {source}: {name} must be {kind}, got {value!r}")


def _check_sizes(source: str, config: HardwareConfig) -> None:
    if config.spad_bytes % config.spad_row_bytes:
        raise VitcError(f"hardware config {source}: spad_kib={config.spad_kib} is not a whole number of {config.spad_row_bytes}-byte rows")
    if config.acc_bytes % config.acc_row_bytes:
        raise VitcError(f"hardware config {source}: acc_kib={config.acc_kib} is not a whole number of {config.acc_row_bytes}-byte rows")
    for memory, rows in (("spad", config.spad_rows), ("acc", config.acc_rows)):
        if rows > MAX_ONCHIP_ROWS:
            raise VitcError(
                f"hardware config {source}: {memory} has {rows} rows, more than the {MAX_ONCHIP_ROWS} "
                f"that 16-bit row addresses reach"
            )
