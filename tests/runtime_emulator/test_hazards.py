"""Hazard checking: accesses to the same on-chip rows by different units with no token chain
between them are reported, naming both instructions and the address; ordered ones are not."""

import numpy as np
import pytest

from isa.errors import VitcError
from tests.runtime_emulator.harness import ProgramBuilder, mask

LOAD = dict(mem=0, rows=16, cols=16, bs=16, dram_stride=16)


def builder():
    b = ProgramBuilder()
    b.x = b.input("x", np.zeros((16, 16), np.int8))
    return b


def test_read_after_write_without_token():
    b = builder()
    b.emit("dma.load", addr=40, dram=b.x, **LOAD)
    b.emit("transpose", src=48, dst=200, rows=4, cols=16, src_bs=4, dst_bs=16)
    with pytest.raises(VitcError) as err:
        b.run()
    message = str(err.value)
    assert "hazard on spad row 48" in message
    assert "pc 1 (offset 0x40) `transpose" in message and "pc 0 (offset 0x0) `dma.load" in message
    assert "(vector) reads it" in message and "(load) writes it" in message


def test_write_after_read_without_token():
    b = builder()
    b.emit("transpose", src=0, dst=200, rows=16, cols=16, src_bs=16, dst_bs=16, signal=mask("store"))
    b.emit("dma.store", mem=0, addr=200, rows=16, cols=16, bs=16, dram=b.x, dram_stride=16, wait=mask("vector"))
    b.emit("dma.load", addr=0, dram=b.x, **LOAD)  # overwrites what the transpose read, unordered
    # The load may run before or after the transpose: whichever the simulation picked, the pair
    # is unordered and reported.
    with pytest.raises(VitcError, match=r"hazard on spad row \d+: .*(transpose|dma.load).*no token orders the two"):
        b.run()


def test_write_after_write_in_accumulator():
    b = builder()
    b.emit("dma.load", mem=1, addr=0, rows=4, cols=16, bs=4, dram=b.x, dram_stride=0, zero=1)
    b.emit("mm", a=0, b=0, c=2, m=4, k=16, n=16, a_bs=16, b_bs=16, c_bs=4)
    with pytest.raises(VitcError, match=r"hazard on acc row [23]"):
        b.run()


def test_ordered_through_a_third_unit_is_no_hazard():
    b = builder()
    b.emit("dma.load", addr=0, dram=b.x, signal=mask("matrix"), **LOAD)
    b.emit("mm", a=0, b=0, c=0, m=16, k=16, n=16, a_bs=16, b_bs=16, c_bs=16, wait=mask("load"), signal=mask("vector"))
    # The vector unit reads what the load wrote; it only waits for the matrix unit, which
    # itself waited for the load: ordered transitively.
    b.emit("transpose", src=0, dst=100, rows=16, cols=16, src_bs=16, dst_bs=16, wait=mask("matrix"))
    b.run()


def test_hazard_checking_can_be_off():
    b = builder()
    b.emit("dma.load", addr=40, dram=b.x, **LOAD)
    b.emit("transpose", src=48, dst=200, rows=4, cols=16, src_bs=4, dst_bs=16)
    b.run(check_hazards=False)


def test_disjoint_lanes_of_other_rows_are_not_confused():
    b = builder()
    b.emit("dma.load", addr=0, dram=b.x, **LOAD)
    b.emit("transpose", src=16, dst=200, rows=16, cols=16, src_bs=16, dst_bs=16)
    b.run()


def test_dram_read_after_write_without_token():
    b = builder()
    scratch = b.output("scratch", "int8", (16, 16))
    b.emit("dma.load", addr=0, dram=b.x, signal=mask("store"), **LOAD)
    b.emit("dma.store", mem=0, addr=0, rows=16, cols=16, bs=16, dram=scratch, dram_stride=16, wait=mask("load"))
    # Reads back what the store writes, with no token from the store unit.
    b.emit("dma.load", mem=0, addr=100, rows=2, cols=8, bs=2, dram=scratch + 40, dram_stride=16)
    with pytest.raises(VitcError) as err:
        b.run()
    message = str(err.value)
    assert message.startswith(f"hazard on DRAM byte 0x{scratch + 40:x}: pc 2")
    assert "(load) reads it while pc 1" in message and "(store) writes it" in message


def test_dram_write_after_read_without_token():
    b = builder()
    b.emit("dma.load", addr=0, dram=b.x, **LOAD)
    b.emit("dma.store", mem=0, addr=300, rows=1, cols=4, bs=1, dram=b.x + 17, dram_stride=4)
    with pytest.raises(VitcError, match=r"hazard on DRAM byte 0x11: pc 1 .*\(store\) writes it while pc 0 .*\(load\) reads it"):
        b.run()


def test_dram_round_trip_ordered_by_tokens():
    b = builder()
    scratch = b.output("scratch", "int8", (16, 16))
    b.emit("dma.load", addr=0, dram=b.x, signal=mask("store"), **LOAD)
    b.emit("dma.store", mem=0, addr=0, rows=16, cols=16, bs=16, dram=scratch, dram_stride=16, wait=mask("load"), signal=mask("load"))
    b.emit("dma.load", mem=0, addr=100, rows=16, cols=16, bs=16, dram=scratch, dram_stride=16, wait=mask("store"))
    b.run()
