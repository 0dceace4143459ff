"""`program._operand_classes`: instructions whose words differ only in wait, signal and layer
share a class; a class never holds two different words; classes are numbered in the order of
their first instruction. Against a dictionary of the masked words' bytes, and with every hash
colliding (the multiplier forced to 0), when classes may split but must never merge."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from isa.table import COMMON_FIELDS, load_table
from runtime_emulator import program

COMMON = load_table().instructions[0].field_by_name
TOKEN_AND_LAYER_BITS = sum(COMMON[name].mask << COMMON[name].lsb for name in COMMON_FIELDS[1:])


def programs():
    """Words drawn from a few distinct operand patterns, each with random token and layer bits."""
    pattern = st.lists(st.integers(0, 3), min_size=8, max_size=8)  # small values: many repeats
    return st.lists(st.tuples(pattern, st.integers(0, (1 << 32) - 1)), min_size=1, max_size=60)


def words_of(drawn) -> np.ndarray:
    words = np.array([pattern for pattern, _ in drawn], np.uint64)
    common = np.array([bits & TOKEN_AND_LAYER_BITS for _, bits in drawn], np.uint64)
    words[:, 0] = (words[:, 0] << np.uint64(32)) | common  # operands above bit 32, tokens and layer below
    return words


def check_classes(words: np.ndarray, may_split: bool) -> None:
    classes, firsts = program._operand_classes(words)
    masked = [row.tobytes() for row in words & program._OPERAND_BITS]
    assert firsts.tolist() == sorted(firsts.tolist()), "classes numbered by first instruction"
    for pc, number in enumerate(classes.tolist()):
        first = int(firsts[number])
        assert masked[pc] == masked[first], f"pc {pc} in the class of pc {first}, their operands differ"
        assert first <= pc
    first_seen = {}
    for pc, key in enumerate(masked):
        first_seen.setdefault(key, pc)
    if not may_split:
        assert firsts.tolist() == sorted(first_seen.values())
        assert all(firsts[classes[pc]] == first_seen[key] for pc, key in enumerate(masked))
    else:
        assert set(first_seen.values()) <= set(firsts.tolist()), "each word's first instruction starts a class"


@settings(max_examples=100, deadline=None)
@given(programs())
def test_equal_operands_share_a_class(drawn):
    check_classes(words_of(drawn), may_split=False)


@settings(max_examples=100, deadline=None)
@given(programs())
def test_colliding_hashes_never_merge_different_operands(drawn):
    saved = program._HASH_MULTIPLIER
    program._HASH_MULTIPLIER = np.uint64(0)  # every hash 0: the sort may interleave any words
    try:
        check_classes(words_of(drawn), may_split=True)
    finally:
        program._HASH_MULTIPLIER = saved
