"""Random programs (every instruction of the table, random field values biased towards small
sizes and addresses so that many of them run) either run or stop with a VitcError: never any
other exception, never a crash in numpy."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isa.encoding import Instruction, encode_program
from isa.errors import VitcError
from isa.table import load_table
from isa.container import Binary, IOEntry, write_vitb
from isa.config import load_config
from runtime_emulator import run_binary

CONFIG = load_config("default")
DRAM = 4096
SIZES = {"rows", "cols", "m", "k", "n"}


def plausible(name: str, hi: int):
    """Mostly values that fit a small machine state, sometimes anything the field holds."""
    if name in SIZES:
        likely = st.integers(1, 40)
    elif name == "depth":
        likely = st.integers(1, 3)
    elif name.endswith("bs") or name.startswith("dram") or name == "depth_stride":
        likely = st.integers(0, 64)
    else:
        likely = st.integers(0, 300)
    return st.one_of(likely, likely, likely, st.integers(0, hi)).map(lambda v: min(v, hi))


def field_values(spec):
    units = load_table().units
    own = units.index(spec.unit) if spec.unit in units else None
    values = {}
    for field in spec.operands:
        lo, hi = field.value_range
        if field.kind == "f32":
            values[field.name] = st.floats(width=32, allow_nan=True)
        elif field.kind in ("enum", "sint"):
            values[field.name] = st.integers(lo, hi)
        else:
            values[field.name] = plausible(field.name, hi)
    any_mask = st.integers(0, 15).map(lambda m: 0 if own is None else m & ~(1 << own))
    token_mask = st.one_of(st.just(0), st.just(0), any_mask)
    values["wait"] = token_mask
    values["signal"] = token_mask
    return st.fixed_dictionaries(values)


def instructions():
    specs = [s for s in load_table().instructions if s.mnemonic != "halt"]
    return st.sampled_from(specs).flatmap(lambda spec: field_values(spec).map(lambda f: Instruction(spec.mnemonic, f)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(instructions(), min_size=1, max_size=6), hazards=st.booleans(), timing=st.booleans())
def test_random_programs_run_or_raise_vitc_error(program, hazards, timing):
    x = np.arange(1024, dtype=np.uint8)
    io = [IOEntry("x", "input", "uint8", (1024,), 0), IOEntry("y", "output", "uint8", (1024,), 2048)]
    image = write_vitb(Binary(CONFIG.hash, encode_program(program + [Instruction("halt", {})]), b"", DRAM, DRAM, io, []))
    try:
        result = run_binary(image, {"x": x}, CONFIG, timing=timing, check_hazards=hazards)
    except VitcError as err:
        assert str(err)
        return
    assert result.outputs["y"].shape == (1024,)
