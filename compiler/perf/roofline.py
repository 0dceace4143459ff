"""The roofline of a compiled binary: a lower bound on its cycles, from the binary alone.

For the work the program does (`work.py`), no schedule can finish in fewer cycles than any of:
- compute: MACs / (dim * dim), the matrix engine's peak;
- vector: vector elements / dim, the vector unit's lanes;
- memory: the compulsory DRAM traffic / DMA bytes per cycle. Compulsory means the constant
  section and the inputs read once, the outputs written once (the I/O table gives their sizes).
  DMA moves `dma_bytes_per_cycle` in each direction at once (TARGET.md: "each way"), so reads
  and writes bound the time separately: `max(read, written) / dma_bytes_per_cycle`.
The bound is the largest of the three (each rounded up to whole cycles), and the resource that
gives it names what the model is bound by. `cycles / bound` (>= 1) measures the schedule.

Invariant: this agrees with `runtime_emulator.stats.RunStats.roofline_cycles` for every program
(tests/perf check it); it needs no run and nothing from the compiler.
"""

from dataclasses import dataclass

from compiler.perf.work import Work, total_work
from isa.config import HardwareConfig
from isa.container import Binary
from isa.errors import VitcError

# In this order, so that a tie names the matrix engine first.
BOUNDS = ("compute", "memory", "vector")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Roofline:
    dim: int
    dma_bytes_per_cycle: int
    macs: int
    vector_elements: int
    compulsory_read: int  # bytes: constants + inputs
    compulsory_written: int  # bytes: outputs

    @property
    def compute_cycles(self) -> int:
        return _ceil_div(self.macs, self.dim * self.dim)

    @property
    def vector_cycles(self) -> int:
        return _ceil_div(self.vector_elements, self.dim)

    @property
    def memory_cycles(self) -> int:
        return _ceil_div(max(self.compulsory_read, self.compulsory_written), self.dma_bytes_per_cycle)

    @property
    def by_bound(self) -> dict[str, int]:
        return {"compute": self.compute_cycles, "memory": self.memory_cycles, "vector": self.vector_cycles}

    @property
    def cycles(self) -> int:
        return max(self.by_bound.values())

    @property
    def bound(self) -> str:
        """The resource whose bound is the largest: compute, memory or vector."""
        by_bound = self.by_bound
        return max(BOUNDS, key=lambda name: (by_bound[name], -BOUNDS.index(name)))

    def to_dict(self) -> dict:
        return {"cycles": self.cycles, "bound": self.bound, "compute_cycles": self.compute_cycles,
                "memory_cycles": self.memory_cycles, "vector_cycles": self.vector_cycles, "macs": self.macs,
                "vector_elements": self.vector_elements, "compulsory_bytes_read": self.compulsory_read,
                "compulsory_bytes_written": self.compulsory_written}


def roofline(binary: Binary, config: HardwareConfig, work: Work | None = None) -> Roofline:
    """The roofline of `binary` on `config` (which must be the configuration it was built for);
    `work` is the binary's total work when the caller has already counted it."""
    if binary.config_hash != config.hash:
        raise VitcError(f"roofline: the binary was built for configuration {binary.config_hash[:12]}..., "
                        f"not {config.name!r} ({config.hash[:12]}...)")
    work = total_work(binary) if work is None else work
    return Roofline(
        dim=config.dim,
        dma_bytes_per_cycle=config.dma_bytes_per_cycle,
        macs=work.macs,
        vector_elements=work.vector_elements,
        compulsory_read=len(binary.constants) + sum(e.nbytes for e in binary.io if e.kind == "input"),
        compulsory_written=sum(e.nbytes for e in binary.io if e.kind == "output"),
    )
