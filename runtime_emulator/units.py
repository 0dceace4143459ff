"""The four execution units and their order in token masks (bit i names unit i)."""

UNITS = ("load", "store", "matrix", "vector")
UNIT_INDEX = {name: index for index, name in enumerate(UNITS)}
CONTROL = -1  # `halt` belongs to no unit queue


# The units a 4-bit token mask names, in unit order, indexed by the mask.
MASK_UNITS = tuple(tuple(u for u in range(len(UNITS)) if mask >> u & 1) for mask in range(1 << len(UNITS)))
