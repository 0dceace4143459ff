"""The .vitb container: layout read back by hand, round trip, determinism, corruption and fuzzing."""

import hashlib
import struct
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from isa.config import load_config
from isa.container import Binary, IOEntry, load_vitb, read_vitb, save_vitb, write_vitb
from isa.encoding import Instruction, encode_program
from isa.errors import VitcError


def sample_binary() -> Binary:
    code = encode_program([Instruction("dma.load", {"mem": 0, "addr": 0, "rows": 1, "cols": 16, "bs": 1,
                                                    "dram": 0x100, "dram_stride": 16, "signal": ["vector"]}),
                           Instruction("halt", {})])
    return Binary(load_config("default").hash, code, bytes(range(200)), 0x1000, 0x2000,
                  [IOEntry("images", "input", "uint8", (1, 3, 4, 4), 0x100, 0.0186, 114),
                   IOEntry("logits", "output", "float32", (1, 10), 0x400)],
                  ["patch_embed", "blocks.0.attn"])


def test_layout_by_hand():
    b = sample_binary()
    data = write_vitb(b)
    assert data[:4] == b"VITB"
    version, crc, count = struct.unpack_from("<III", data, 4)
    assert (version, count) == (1, 4) and crc == zlib.crc32(data[12:])
    assert data[16:48] == bytes.fromhex(load_config("default").hash)
    assert struct.unpack_from("<QQ", data, 48) == (0x2000, 0x1000)
    sections = {}
    for i in range(4):
        tag, reserved, offset, size = struct.unpack_from("<4sIQQ", data, 64 + 24 * i)
        assert reserved == 0 and offset % 64 == 0
        sections[tag] = data[offset:offset + size]
    assert sections[b"CODE"] == b.code and sections[b"CNST"] == b.constants
    assert sections[b"LAYR"] == struct.pack("<I", 2) + b"\x0b\x00patch_embed" + b"\x0d\x00blocks.0.attn"
    io = sections[b"IOTB"]
    assert struct.unpack_from("<IH", io) == (2, 6) and io[6:12] == b"images" and io[12] == 0


def test_round_trip_and_determinism(tmp_path):
    b = sample_binary()
    data = write_vitb(b)
    assert read_vitb(data) == b
    assert write_vitb(sample_binary()) == data == write_vitb(read_vitb(data))
    path = tmp_path / "m.vitb"
    save_vitb(path, b)
    assert path.read_bytes() == data and load_vitb(path) == b
    assert [p.name for p in tmp_path.iterdir()] == ["m.vitb"]  # no temporary file left behind


def test_empty_binary():
    b = Binary(hashlib.sha256(b"").hexdigest(), b"", b"", 0, 0)
    assert read_vitb(write_vitb(b)) == b


@pytest.mark.parametrize("change, message", [
    (dict(code=b"\x01" * 10), "not a whole number of 64-byte instructions"),
    (dict(config_hash="abc"), "not 64 lower-case hex digits"),
    (dict(constants_addr=0x1FA0), "constants at 0x1fa0 (200 bytes) lies outside DRAM of 8192 bytes"),
    (dict(io=[IOEntry("x", "input", "int8", (3, 3000), 0)]), "input 'x' at 0x0 (9000 bytes) lies outside DRAM"),
    (dict(io=[IOEntry("x", "input", "bfloat16", (1,), 0)]), "dtype 'bfloat16' is not one of"),
    (dict(io=[IOEntry("x", "inout", "int8", (1,), 0)]), "kind must be one of input, output"),
    (dict(io=[IOEntry("x", "input", "int8", (1,), 0)] * 2), "duplicate I/O name"),
])
def test_write_rejects_inconsistent_binaries(change, message):
    b = sample_binary()
    for key, value in change.items():
        setattr(b, key, value)
    with pytest.raises(VitcError, match="binary: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        write_vitb(b)


def _refresh_crc(data: bytes) -> bytes:
    return data[:8] + struct.pack("<I", zlib.crc32(data[12:])) + data[12:]


def test_corruptions_name_the_offset():
    data = write_vitb(sample_binary())
    cases = [
        (b"XITB" + data[4:], "offset 0x0 (header): bad magic"),
        (data[:4] + struct.pack("<I", 2) + data[8:], "offset 0x4 (header): unsupported version 2"),
        (data[:200] + bytes([data[200] ^ 1]) + data[201:], "offset 0x8 (header): checksum mismatch"),
        (data[:48], "offset 0x30 (header): truncated: need 16 bytes, 0 left"),
        (data[:-64], "section LAYR at"),
        (data[:-1], "checksum mismatch"),
        (_refresh_crc(data[:64] + b"CODX" + data[68:]), "offset 0x40 (header): section b'CODX' where b'CODE' was expected"),
        (_refresh_crc(data + b"\x00"), "not in canonical layout"),
        (_refresh_crc(data[:48] + struct.pack("<Q", 0x100) + data[56:]), "lies outside DRAM of 256 bytes"),
    ]
    for corrupt, message in cases:
        with pytest.raises(VitcError) as err:
            read_vitb(corrupt)
        assert message in str(err.value), str(err.value)


def test_every_truncation_is_a_vitc_error():
    data = write_vitb(sample_binary())
    for n in range(len(data)):
        with pytest.raises(VitcError, match="offset 0x"):
            read_vitb(data[:n])


def test_load_names_the_file(tmp_path):
    path = tmp_path / "bad.vitb"
    path.write_bytes(b"nope")
    with pytest.raises(VitcError, match="bad.vitb: .vitb: offset 0x0"):
        load_vitb(path)
    with pytest.raises(VitcError, match="cannot read"):
        load_vitb(tmp_path / "missing.vitb")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data):
    for candidate in (data, b"VITB\x01\x00\x00\x00" + data, _refresh_crc(b"VITB\x01\x00\x00\x00" + data)):
        try:
            read_vitb(candidate)
        except VitcError:
            pass


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4), st.booleans())
def test_fuzz_mutated_files(edits, fix_crc):
    """Byte edits, with the checksum repaired half of the time so the structural checks are reached."""
    data = bytearray(write_vitb(sample_binary()))
    for position, value in edits:
        data[position % len(data)] = value
    candidate = _refresh_crc(bytes(data)) if fix_crc else bytes(data)
    try:
        b = read_vitb(candidate)
    except VitcError:
        return
    assert write_vitb(b) == candidate


dtypes = st.sampled_from(["int8", "uint8", "int32", "float32", "int64"])
io_entries = st.builds(
    lambda name, kind, dtype, shape, addr, scale, zp: IOEntry(name, kind, dtype, tuple(shape), addr, scale, zp),
    st.text(max_size=10), st.sampled_from(["input", "output"]), dtypes,
    st.lists(st.integers(0, 8), max_size=4), st.integers(0, 1 << 16), st.floats(), st.integers(-2**63, 2**63 - 1))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=64, max_size=64), max_size=3), st.binary(max_size=200), st.integers(0, 1 << 16),
       st.lists(io_entries, max_size=4, unique_by=lambda e: e.name), st.lists(st.text(max_size=12), max_size=4))
def test_round_trip_of_random_binaries(words, constants, constants_addr, io, layers):
    """Any consistent Binary survives write -> read unchanged (NaN scales compared by bits)."""
    binary = Binary("0f" * 32, b"".join(words), constants, constants_addr, 1 << 17, io, layers)
    data = write_vitb(binary)
    again = read_vitb(data)
    assert write_vitb(again) == data
    assert (again.code, again.constants, again.constants_addr, again.layers) == (binary.code, constants, constants_addr, layers)
    for got, want in zip(again.io, io, strict=True):
        assert struct.pack("<d", got.scale) == struct.pack("<d", want.scale)
        assert (got.name, got.kind, got.dtype, got.shape, got.addr, got.zero_point) == (
            want.name, want.kind, want.dtype, want.shape, want.addr, want.zero_point)


def test_non_canonical_bytes_name_their_own_offset():
    """A non-zero padding byte (checksum repaired) is reported where it is, and a file with bytes
    after its last section at the offset where the canonical file ends."""
    data = write_vitb(sample_binary())
    table_end = 64 + 24 * 4  # header, then four section entries, padded to 192
    padded = _refresh_crc(data[:table_end + 5] + b"\x01" + data[table_end + 6:])
    with pytest.raises(VitcError, match=rf"offset 0x{table_end + 5:x} \(header\): not in canonical layout"):
        read_vitb(padded)
    with pytest.raises(VitcError, match=rf"offset 0x{len(data):x} \(header\): not in canonical layout"):
        read_vitb(_refresh_crc(data + b"\x00" * 3))
