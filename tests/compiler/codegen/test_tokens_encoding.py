"""The scheduled program of a real model encodes to exactly the bytes of encoding instruction by
instruction (`encode_program` encodes whole mnemonics at once with numpy; `encode` is the
reference), and a bad value still gets `encode`'s error naming the instruction."""

import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.frontend import import_model
from isa.config import load_config
from isa.encoding import Instruction, encode, encode_program
from isa.errors import VitcError
from models import zoo


@pytest.fixture(scope="module")
def program():
    graph = import_model(zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0]))
    return compile_graph_full(graph, load_config("default")).instructions


def test_a_compiled_program_encodes_to_the_per_instruction_bytes(program):
    assert len({i.mnemonic for i in program}) > 5
    expected = b"".join(encode(i) for i in program)
    encoded = encode_program(program)
    width = len(encode(program[0]))
    for pc in range(len(program)):
        assert encoded[pc * width:(pc + 1) * width] == expected[pc * width:(pc + 1) * width], \
            f"instruction {pc} ({program[pc].mnemonic}): {encoded[pc * width:(pc + 1) * width].hex()} != {expected[pc * width:(pc + 1) * width].hex()}"
    assert encoded == expected


def test_enum_names_unit_names_and_numpy_values_encode_as_encode_does(program):
    mixed = list(program)
    mixed[0] = Instruction(mixed[0].mnemonic, {**mixed[0].fields, "signal": ()})  # mask as unit names
    halt = Instruction("halt", {})
    assert encode_program(mixed + [halt]) == b"".join(encode(i) for i in mixed + [halt])


@pytest.mark.parametrize("bad, message", [
    ({"layer": -1}, "field layer=-1 does not fit"),
    ({"layer": 1.5}, "field layer=1.5 is not an integer"),
    ({"layer": True}, "field layer=True is not an integer"),
    ({"nonsense": 1}, "unknown field(s) nonsense"),
])
def test_a_bad_value_is_encodes_error_naming_the_instruction(program, bad, message):
    position = len(program) // 2
    broken = list(program)
    broken[position] = Instruction(broken[position].mnemonic, {**broken[position].fields, **bad})
    with pytest.raises(VitcError) as err:
        encode_program(broken)
    assert str(err.value).startswith(f"instruction {position}: ") and message in str(err.value)
