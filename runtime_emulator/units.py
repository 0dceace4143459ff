"""The four execution units and their order in token masks (bit i names unit i)."""

UNITS = ("load", "store", "matrix", "vector")
UNIT_INDEX = {name: index for index, name in enumerate(UNITS)}
CONTROL = -1  # `halt` belongs to no unit queue


_MASK_UNITS = tuple(tuple(u for u in range(len(UNITS)) if mask >> u & 1) for mask in range(1 << len(UNITS)))


def mask_units(mask: int) -> tuple[int, ...]:
    """Units named by a 4-bit token mask, in unit order."""
    return _MASK_UNITS[mask]
