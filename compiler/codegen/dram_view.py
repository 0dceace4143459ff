"""Strided views of DRAM tensors: how layout ops become addressing instead of copies.

A `DramView` is a tensor stored somewhere in DRAM: a base byte address, an element size, and for
every logical axis a tuple of *sub-axes* `(extent, stride)` (outer to inner, strides in
elements). A logical axis made of several sub-axes is what a reshape of a permuted tensor gives
(e.g. the 192 = 3 x 8 x 8 columns of a patch matrix); keeping the sub-axes makes every reshape,
transpose, squeeze/unsqueeze/flatten, constant-index gather, slice and numpy broadcast a pure
change of addressing.

Invariants: sub-axes of extent 1 are dropped (an axis of extent 1 keeps one `(1, 0)` sub-axis),
adjacent sub-axes that address like one are merged, strides are non-negative (0 only for
broadcast axes), and a view never addresses outside the bytes of its buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SubAxis = tuple[int, int]  # (extent, stride in elements)


def _normalize_axis(subs) -> tuple[SubAxis, ...]:
    """Drop extent-1 sub-axes and merge neighbours that address like one sub-axis."""
    kept = [(e, s) for e, s in subs if e != 1]
    merged: list[SubAxis] = []
    for extent, stride in kept:
        if merged and merged[-1][1] == extent * stride:
            outer_extent, _ = merged.pop()
            merged.append((outer_extent * extent, stride))
        else:
            merged.append((extent, stride))
    return tuple(merged) if merged else ((1, 0),)


def _extent(subs) -> int:
    return math.prod(e for e, _ in subs)


@dataclass(frozen=True)
class DramView:
    addr: int  # byte address of element (0, ..., 0)
    esize: int  # bytes per element
    axes: tuple[tuple[SubAxis, ...], ...]

    def __hash__(self) -> int:
        # A view is hashed as a key of every transfer of a tile of it: its nested tuples once
        # (kept in the instance dict; `functools.cached_property` would take a lock every time).
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.addr, self.esize, self.axes))
            object.__setattr__(self, "_hash", cached)
        return cached

    @classmethod
    def contiguous(cls, addr: int, shape, esize: int) -> DramView:
        """A row-major tensor of `shape` at `addr`."""
        axes, stride = [], 1
        for extent in reversed(tuple(shape)):
            axes.append(((extent, stride),))
            stride *= extent
        return cls(addr, esize, tuple(_normalize_axis(a) for a in reversed(axes)))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(_extent(a) for a in self.axes)

    def fine_axes(self) -> list[SubAxis]:
        """Every sub-axis of every logical axis, outer to inner (row-major element order)."""
        return [sub for axis in self.axes for sub in axis if sub[0] != 1]

    def byte_span(self) -> tuple[int, int]:
        """[first, last + 1) byte this view touches (an over-approximation of its footprint)."""
        last = sum((e - 1) * s for e, s in self.fine_axes())
        return self.addr, self.addr + (last + 1) * self.esize

    def is_contiguous(self) -> bool:
        return self == DramView.contiguous(self.addr, self.shape, self.esize)

    def physical_order(self) -> tuple[int, ...] | None:
        """The permutation of logical axes from the largest stride to the smallest (the order
        the elements lie in memory), or None when an axis has several sub-axes. An extent-1
        axis stays next to the axis after it (its stride means nothing)."""
        if any(len(axis) != 1 for axis in self.axes):
            return None
        keys, outer = [], 1
        for (extent, stride), in reversed(self.axes):
            keys.append(stride if extent > 1 else outer)
            outer = max(outer, stride * extent) if extent > 1 else outer
        keys.reverse()
        return tuple(sorted(range(len(self.axes)), key=lambda i: -keys[i]))

    # ---- layout ops ------------------------------------------------------------------------

    def transpose(self, perm) -> DramView:
        return DramView(self.addr, self.esize, tuple(self.axes[p] for p in perm))

    def reshape(self, shape) -> DramView | None:
        """The same elements in row-major order with a new shape; None when a new axis boundary
        falls inside a sub-axis it cannot split."""
        fine = list(self.fine_axes())
        axes = []
        for extent in shape:
            subs, need = [], extent
            while need > 1:
                if not fine:
                    return None
                e, s = fine.pop(0)
                if e <= need:
                    if need % e:
                        return None
                    subs.append((e, s))
                    need //= e
                    continue
                if e % need:
                    return None
                subs.append((need, s * (e // need)))
                fine.insert(0, (e // need, s))
                need = 1
            axes.append(_normalize_axis(subs))
        if fine:
            return None
        return DramView(self.addr, self.esize, tuple(axes))

    def select(self, axis: int, index: int) -> DramView:
        """Drop `axis`, keeping element `index` of it (Gather with a scalar index)."""
        offset = 0
        for extent, stride in reversed(self.axes[axis]):
            offset += (index % extent) * stride
            index //= extent
        return DramView(self.addr + offset * self.esize, self.esize, self.axes[:axis] + self.axes[axis + 1:])

    def at(self, index) -> DramView:
        """The sub-tensor at `index` of the leading axes (one entry per leading axis)."""
        view = self
        for i in index:
            view = view.select(0, i)
        return view

    def narrow(self, axis: int, start: int, length: int, step: int = 1) -> DramView | None:
        """Elements `start, start+step, ...` (`length` of them) of `axis`; None when the axis is
        made of several sub-axes and the range crosses them."""
        subs = self.axes[axis]
        if len(subs) != 1:
            if step != 1 or start % _extent(subs[1:]) or length % _extent(subs[1:]):
                return None
            inner = _extent(subs[1:])
            outer_extent, outer_stride = subs[0]
            head = DramView(self.addr, self.esize, self.axes[:axis] + (((outer_extent, outer_stride),),) + self.axes[axis + 1:])
            narrowed = head.narrow(axis, start // inner, length // inner)
            return DramView(narrowed.addr, self.esize, self.axes[:axis] + (narrowed.axes[axis] + subs[1:],) + self.axes[axis + 1:])
        (_, stride), = subs
        axis_subs = _normalize_axis(((length, stride * step),))
        return DramView(self.addr + start * stride * self.esize, self.esize, self.axes[:axis] + (axis_subs,) + self.axes[axis + 1:])

    def broadcast_to(self, shape) -> DramView:
        """numpy broadcasting: prepend axes, and stretch extent-1 axes with stride 0."""
        shape = tuple(shape)
        axes = ((((1, 0),),) * (len(shape) - len(self.axes))) + self.axes
        out = []
        for subs, extent in zip(axes, shape):
            out.append(subs if _extent(subs) == extent else ((extent, 0),))
        return DramView(self.addr, self.esize, tuple(out))

    # ---- as a matrix ------------------------------------------------------------------------

    def matrix_rows(self) -> tuple[SubAxis, ...]:
        """The sub-axes of every axis but the last, merged: the rows of the view as a matrix."""
        return _normalize_axis([sub for axis in self.axes[:-1] for sub in axis])

    def matrix_cols(self) -> tuple[SubAxis, ...]:
        """The sub-axes of the last axis: the columns of the view as a matrix."""
        return self.axes[-1] if self.axes else ((1, 0),)

    def as_matrix(self) -> DramView:
        """The same elements as a 2-D view (rows, cols)."""
        return DramView(self.addr, self.esize, (self.matrix_rows(), self.matrix_cols()))
