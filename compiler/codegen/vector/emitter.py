"""`Emitter`: vector-unit instructions built from `Region`s, one method per instruction.

Each method spells out how a region maps onto the instruction's own field names (`src`/`dst`,
`a`/`b`/`c`, `*_bs`), so the lowerings never touch field names. Every instruction gets the
emitter's `layer` and no tokens (wait = signal = 0: the vector unit runs its queue in order).

Invariants: regions are checked to be in the memory the instruction reads or writes; float32
immediates are passed as Python floats that are exactly float32 (the encoder rejects others).
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.region import Region
from isa.encoding import Instruction
from isa.errors import VitcError


def f32_bits(value: float) -> int:
    """The 32-bit pattern of a float32 value (for `valu`'s `imm`)."""
    return int(np.array([value], np.float32).view(np.uint32)[0])


def _unsigned(dtype: str) -> int:
    """The `u` flag of an 8-bit IR dtype."""
    return 1 if dtype == "u8" else 0


class Emitter:
    def __init__(self, layer: int):
        self.layer = layer
        self.instructions: list[Instruction] = []

    def _emit(self, mnemonic: str, fields: dict) -> None:
        self.instructions.append(Instruction(mnemonic, {"layer": self.layer, **fields}))

    @staticmethod
    def _in(region: Region, mem: str, *what: str) -> Region:
        """`region`, checked to be in `mem`; `what` names it in the message (its words are
        joined only then: this runs for every region of every instruction)."""
        if region.mem != mem:
            raise VitcError(f"{' '.join(what)}: region {region} must be in {mem}")
        return region

    # ---- layout ----------------------------------------------------------------------------

    def copy(self, src: Region, dst: Region) -> None:
        self._in(dst, src.mem, "copy destination")
        self._emit("copy", dict(mem=src.mem, src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols,
                                src_bs=src.bs, dst_bs=dst.bs))

    def transpose(self, src: Region, dst: Region) -> None:
        """SPAD `src` (rows x cols) -> SPAD `dst` (cols x rows)."""
        self._in(src, "spad", "transpose source")
        self._in(dst, "spad", "transpose destination")
        self._emit("transpose", dict(src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols,
                                     src_bs=src.bs, dst_bs=dst.bs))

    # ---- conversions -----------------------------------------------------------------------

    def dequant(self, src: Region, dst: Region, dtype: str, zero_point: int, scale: float) -> None:
        self._in(src, "spad", "dequant source")
        self._in(dst, "acc", "dequant destination")
        self._emit("dequant", dict(src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols, src_bs=src.bs,
                                   dst_bs=dst.bs, u=_unsigned(dtype), zp=zero_point, scale=scale))

    def quant(self, src: Region, dst: Region, dtype: str, zero_point: int, scale: float = 0.0,
              row_scales: Region | None = None) -> None:
        """QuantizeLinear by the immediate `scale`, or by one scale per row (`row_scales`)."""
        self._in(src, "acc", "quant source")
        self._in(dst, "spad", "quant destination")
        per_row = {} if row_scales is None else dict(pr=1, s_addr=self._in(row_scales, "acc", "quant scales").addr)
        self._emit("quant", dict(src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols, src_bs=src.bs,
                                 dst_bs=dst.bs, u=_unsigned(dtype), zp=zero_point, scale=scale, **per_row))

    # ---- ACC arithmetic --------------------------------------------------------------------

    def valu(self, op: str, dst: Region, a: Region, b: Region | float, bmode: str = "full") -> None:
        """float32 `dst = a op b`; `bmode` full / row (b a column vector) / col (b a row vector)
        / scalar (b a float32 number)."""
        for region, what in ((dst, "dst"), (a, "a")):
            self._in(region, "acc", "valu", what)
        fields = dict(op=op, ty="f32", bmode=bmode, dst=dst.addr, a=a.addr, rows=a.rows, cols=a.cols,
                      dst_bs=dst.bs, a_bs=a.bs)
        if bmode == "scalar":
            fields["imm"] = f32_bits(b)
        else:
            fields.update(b=self._in(b, "acc", "valu b").addr, b_bs=b.bs if bmode == "full" else 0)
        self._emit("valu", fields)

    def vfma(self, dst: Region, a: Region, b: Region | float, bmode: str, c: Region | float, cmode: str) -> None:
        """float32 `dst = fma(a, b, c)`, one rounding; b and c placed like valu's b (a region for
        full / row / col, a float32 number for scalar)."""
        for region, what in ((dst, "dst"), (a, "a")):
            self._in(region, "acc", "vfma", what)
        fields = dict(bmode=bmode, cmode=cmode, dst=dst.addr, a=a.addr, rows=a.rows, cols=a.cols, dst_bs=dst.bs,
                      a_bs=a.bs)
        for name, operand, mode in (("b", b, bmode), ("c", c, cmode)):
            if mode == "scalar":
                fields[f"{name}_imm"] = operand
                continue
            fields[name] = self._in(operand, "acc", "vfma", name).addr
            fields[f"{name}_bs"] = operand.bs if mode == "full" else 0
        self._emit("vfma", fields)

    def vunary(self, fn: str, src: Region, dst: Region) -> None:
        self._in(src, "acc", "vunary source")
        self._in(dst, "acc", "vunary destination")
        self._emit("vunary", dict(fn=fn, src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols,
                                  src_bs=src.bs, dst_bs=dst.bs))

    # ---- row reductions --------------------------------------------------------------------

    def rowsum(self, src: Region, dst: Region, squares: bool = False, order: str = "seq", divisor: float = 1.0) -> None:
        """Row sums (of squares) in summation `order` (seq, lanes8, f64x4, lanes16), each divided by `divisor`."""
        self._in(src, "acc", "rowsum source")
        self._in(dst, "acc", "rowsum destination")
        self._emit("rowsum", dict(src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols, src_bs=src.bs,
                                  sq=int(squares), order=order, div=divisor))

    def rowmax(self, src: Region, dst: Region, dtype: str) -> None:
        """Row maxima into an ACC column vector: of 8-bit SPAD codes (`dtype` i8/u8, int32 maxima)
        or of ACC float32 words (`dtype` f32, float32 maxima)."""
        self._in(dst, "acc", "rowmax destination")
        if dtype == "f32":
            self._in(src, "acc", "rowmax source")
            element = dict(mem="acc", ty="f32")
        else:
            self._in(src, "spad", "rowmax source")
            element = dict(mem="spad", u=_unsigned(dtype))
        self._emit("rowmax", dict(src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols, src_bs=src.bs,
                                  **element))

    def lut(self, src: Region, dst: Region, dtype: str, table: Region, offset: int = 0,
            row_offsets: Region | None = None) -> None:
        """`dst = table[(x + offset - row_offsets[r]) & 0xFF]`; the table and `dst` share a memory."""
        self._in(src, "spad", "lut source")
        self._in(table, dst.mem, "lut table")
        per_row = {} if row_offsets is None else dict(pr=1, r_addr=self._in(row_offsets, "acc", "lut rows").addr)
        self._emit("lut", dict(src=src.addr, dst=dst.addr, rows=src.rows, cols=src.cols, src_bs=src.bs,
                               dst_bs=dst.bs, u=_unsigned(dtype), out=dst.mem, tab=table.addr, off=offset,
                               **per_row))

    # ---- quantized binary ------------------------------------------------------------------

    def qbinary(self, mnemonic: str, a: Region, b: Region, c: Region, dtypes: tuple[str, str, str],
                broadcast_b: bool, **constants) -> None:
        """`qadd` / `qmul` of SPAD codes; `constants` are the mode and its immediates."""
        for region, what in ((a, "a"), (b, "b"), (c, "c")):
            self._in(region, "spad", mnemonic, what)
        self._emit(mnemonic, dict(a=a.addr, b=b.addr, c=c.addr, rows=c.rows, cols=c.cols, a_bs=a.bs,
                                  b_bs=0 if broadcast_b else b.bs, c_bs=c.bs, bbc=int(broadcast_b),
                                  au=_unsigned(dtypes[0]), bu=_unsigned(dtypes[1]), cu=_unsigned(dtypes[2]),
                                  **constants))
