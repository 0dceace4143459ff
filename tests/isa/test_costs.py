"""`isa.costs`: the cycle model, one instruction at a time (`cycles`, ints) and many of one
mnemonic at once (`cycles_of_columns`, numpy columns), against the timing rules of
docs/architecture.md written out here with `math.ceil` and `max`, on random field values of
every mnemonic of the table, on both configurations."""

import math

import numpy as np
import pytest

from isa.config import load_config
from isa.costs import COST_FIELDS, cycles, cycles_of_columns
from isa.table import load_table

REDUCTIONS = {"rowsum", "rowmax"}


def _spec_cycles(mnemonic: str, f: dict, config) -> int:
    """The timing rules of docs/architecture.md ("Timing")."""
    if mnemonic == "halt":
        return 0
    if mnemonic.startswith("dma."):
        moved = f["depth"] * f["rows"] * f["cols"] * (4 if f["mem"] == 1 else 1)
        if f.get("zero", 0):
            return config.dma_latency + math.ceil(moved / config.dim)
        return config.dma_latency + math.ceil(moved / config.dma_bytes_per_cycle)
    if mnemonic == "mm":
        return math.ceil(f["k"] / config.dim) * math.ceil(f["n"] / config.dim) * max(f["m"], config.dim) + config.mm_latency
    if mnemonic == "fmm":
        return config.vector_latency + math.ceil(f["m"] * f["n"] / config.dim) * f["k"]
    if mnemonic in REDUCTIONS:
        return config.vector_latency + math.ceil(f["rows"] / config.dim) * f["cols"]
    return config.vector_latency + math.ceil(f["rows"] * f["cols"] / config.dim)


def _random_columns(spec, rng, count: int) -> dict[str, np.ndarray]:
    columns = {}
    for field in spec.fields:
        if field.name not in COST_FIELDS:
            continue
        if field.kind == "enum":
            columns[field.name] = rng.integers(0, len(field.values), count)
        elif field.name == "zero":
            columns[field.name] = rng.integers(0, 2, count)
        else:  # sizes around and across the dim boundaries (1 .. a few tiles)
            columns[field.name] = rng.integers(1, 200, count)
    return columns


@pytest.mark.parametrize("config_name", ["default", "large"])
@pytest.mark.parametrize("spec", load_table().instructions, ids=lambda spec: spec.mnemonic)
def test_cycles_of_one_and_of_columns_follow_the_timing_rules(spec, config_name):
    config = load_config(config_name)
    rng = np.random.default_rng(len(spec.mnemonic))
    count = 300
    columns = _random_columns(spec, rng, count)
    together = cycles_of_columns(spec.mnemonic, columns, count, config)
    assert together.shape == (count,)
    for index in range(count):
        fields = {name: int(column[index]) for name, column in columns.items()}
        expected = _spec_cycles(spec.mnemonic, fields, config)
        one = cycles(spec.mnemonic, fields, config)
        assert one == expected, f"{spec.mnemonic} {fields}: cycles {one}, timing rules {expected}"
        assert int(together[index]) == expected, \
            f"{spec.mnemonic} instruction {index} {fields}: cycles_of_columns {int(together[index])}, timing rules {expected}"


def test_a_dma_without_a_zero_field_streams_at_the_dma_rate():
    config = load_config("default")
    fields = {"mem": 1, "rows": 3, "cols": 5, "depth": 2}  # dma.store has no `zero`
    assert cycles("dma.store", fields, config) == config.dma_latency + math.ceil(120 / config.dma_bytes_per_cycle)
