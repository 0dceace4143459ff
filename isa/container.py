"""The `.vitb` binary container: everything the emulator needs to run a compiled model.

Layout (all integers little-endian):

    offset  size  field
    0       4     magic b"VITB"
    4       4     version (u32, currently 1)
    8       4     crc32 (zlib) of every byte from offset 12 to the end of the file
    12      4     number of sections (u32, always 4)
    16      32    configuration hash (the raw 32 bytes of HardwareConfig.hash)
    48      8     dram_size (u64): bytes of DRAM the program addresses
    56      8     constants_addr (u64): DRAM address where the constant section is loaded
    64      24*n  section table: tag (4 ASCII bytes), reserved u32 (0), offset u64, size u64
    ...           sections, in table order, each starting at a multiple of 64 bytes, zero padded

Sections, in this order: `CODE` (instruction words), `CNST` (constant bytes), `IOTB` (I/O
table), `LAYR` (layer names). Strings are u16 length + UTF-8 bytes. The I/O table is a u32 count,
then per entry: name (string), kind (u8: 0 input, 1 output), dtype (string), ndim (u8), shape
(ndim x u64), addr (u64), scale (f64), zero_point (i64). The layer table is a u32 count then the
names.

Invariants:
- `write_vitb` is deterministic (same Binary, same bytes) and checks the Binary first: code a
  whole number of instructions, constants and every I/O tensor inside DRAM;
- `read_vitb` checks every length and offset before using it, so a truncated or corrupt file
  raises `VitcError` naming the offset, never another exception. It accepts only the canonical
  bytes `write_vitb` would produce for what it read (zero padding, sections in place, nothing
  trailing), so reading and writing are exact inverses.
"""

import dataclasses
import math
import os
import struct
import zlib
from pathlib import Path

from isa.errors import VitcError
from isa.files import write_file_atomically
from isa.table import load_table

MAGIC = b"VITB"
VERSION = 1
HEADER_BYTES = 64
SECTION_ENTRY = struct.Struct("<4sIQQ")
SECTION_TAGS = (b"CODE", b"CNST", b"IOTB", b"LAYR")
SECTION_ALIGN = 64
IO_KINDS = ("input", "output")
MAX_NDIM = 255
DTYPES = {"int8": 1, "uint8": 1, "int32": 4, "float32": 4, "int64": 8}


@dataclasses.dataclass(frozen=True)
class IOEntry:
    """One model input or output tensor, stored contiguously (row-major) in DRAM at `addr`."""

    name: str
    kind: str  # "input" or "output"
    dtype: str  # one of DTYPES
    shape: tuple[int, ...]
    addr: int
    scale: float = 1.0  # quantisation of the DRAM tensor; 1.0 / 0 for a float tensor
    zero_point: int = 0

    @property
    def nbytes(self) -> int:
        return DTYPES[self.dtype] * math.prod(self.shape)


@dataclasses.dataclass
class Binary:
    config_hash: str  # hex sha256 of the HardwareConfig the code was built for
    code: bytes  # instruction words
    constants: bytes  # loaded into DRAM at constants_addr before the program starts
    constants_addr: int
    dram_size: int
    io: list[IOEntry] = dataclasses.field(default_factory=list)
    layers: list[str] = dataclasses.field(default_factory=list)


def check_binary(binary: Binary) -> None:
    """Raise VitcError unless the binary is self-consistent."""
    width = load_table().width_bytes
    if len(binary.config_hash) != 64 or not all(c in "0123456789abcdef" for c in binary.config_hash):
        raise VitcError(f"binary: config_hash {binary.config_hash!r} is not 64 lower-case hex digits")
    if len(binary.code) % width:
        raise VitcError(f"binary: code of {len(binary.code)} bytes is not a whole number of {width}-byte instructions")
    for what, value in (("dram_size", binary.dram_size), ("constants_addr", binary.constants_addr)):
        _check_u64(what, value)
    _check_span("constants", binary.constants_addr, len(binary.constants), binary.dram_size)
    names = set()
    for entry in binary.io:
        where = f"binary: {entry.kind} {entry.name!r}"
        if entry.kind not in IO_KINDS:
            raise VitcError(f"{where}: kind must be one of {', '.join(IO_KINDS)}")
        if entry.dtype not in DTYPES:
            raise VitcError(f"{where}: dtype {entry.dtype!r} is not one of {', '.join(DTYPES)}")
        if entry.name in names:
            raise VitcError(f"{where}: duplicate I/O name")
        if len(entry.shape) > MAX_NDIM:
            raise VitcError(f"{where}: {len(entry.shape)} dimensions, at most {MAX_NDIM}")
        for what, value in [("addr", entry.addr)] + [("shape", d) for d in entry.shape]:
            _check_u64(f"{entry.kind} {entry.name!r}: {what}", value)
        if not -(1 << 63) <= entry.zero_point < 1 << 63:
            raise VitcError(f"{where}: zero_point {entry.zero_point} does not fit 64 bits")
        names.add(entry.name)
        _check_span(f"{entry.kind} {entry.name!r}", entry.addr, entry.nbytes, binary.dram_size)


def _check_u64(what: str, value: int) -> None:
    if not 0 <= value < 1 << 64:
        raise VitcError(f"binary: {what} = {value} is not an unsigned 64-bit integer")


def _check_span(what: str, addr: int, size: int, dram_size: int) -> None:
    if addr < 0 or addr + size > dram_size:
        raise VitcError(f"binary: {what} at 0x{addr:x} ({size} bytes) lies outside DRAM of {dram_size} bytes")


def write_vitb(binary: Binary) -> bytes:
    """Serialise a binary; the same Binary always gives the same bytes."""
    check_binary(binary)
    pieces = _layout(binary)
    crc = 0
    for piece in pieces:  # the checksum piece by piece: the file is joined once (vit-base: 96 MB)
        crc = zlib.crc32(piece, crc)
    return b"".join([MAGIC, struct.pack("<II", VERSION, crc), *pieces])


def _layout(binary: Binary) -> list[bytes]:
    """The file from offset 12 (after the checksum) as consecutive pieces: the header's rest and
    the section table padded to the first section, then each section and its zero padding."""
    sections = [binary.code, binary.constants, _pack_io(binary.io), _pack_strings(binary.layers)]
    table_end = HEADER_BYTES + SECTION_ENTRY.size * len(sections)
    offset = _align(table_end)
    entries, body = [], []
    for tag, data in zip(SECTION_TAGS, sections):
        entries.append(SECTION_ENTRY.pack(tag, 0, offset, len(data)))
        body += [data, bytes(_align(len(data)) - len(data))]
        offset += _align(len(data))
    head = (struct.pack("<I", len(sections)) + bytes.fromhex(binary.config_hash)
            + struct.pack("<QQ", binary.dram_size, binary.constants_addr)
            + b"".join(entries) + bytes(_align(table_end) - table_end))
    return [head] + body


def save_vitb(path: str | os.PathLike, binary: Binary) -> None:
    """Write a binary to a file atomically: a temporary file in the same folder, then a rename,
    so a failure never leaves a half-written .vitb behind."""
    write_file_atomically(path, write_vitb(binary))


def load_vitb(path: str | os.PathLike) -> Binary:
    """Read and check a .vitb file; errors name the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise VitcError(f"{path}: cannot read: {err.strerror}") from None
    try:
        return read_vitb(data)
    except VitcError as err:
        raise VitcError(f"{path}: {err}") from None


def _align(n: int) -> int:
    return -(-n // SECTION_ALIGN) * SECTION_ALIGN


def _pack_string(text: str) -> bytes:
    try:
        data = text.encode()
    except UnicodeEncodeError as err:
        raise VitcError(f"binary: string {text[:40]!r} is not encodable as UTF-8: {err.reason}") from None
    if len(data) > 0xFFFF:
        raise VitcError(f"binary: string of {len(data)} bytes is too long (at most 65535): {text[:40]!r}...")
    return struct.pack("<H", len(data)) + data


def _pack_strings(texts: list[str]) -> bytes:
    return struct.pack("<I", len(texts)) + b"".join(_pack_string(t) for t in texts)


def _pack_io(entries: list[IOEntry]) -> bytes:
    out = bytearray(struct.pack("<I", len(entries)))
    for e in entries:
        out += _pack_string(e.name) + struct.pack("<B", IO_KINDS.index(e.kind)) + _pack_string(e.dtype)
        out += struct.pack(f"<B{len(e.shape)}Q", len(e.shape), *e.shape)
        out += struct.pack("<Qdq", e.addr, e.scale, e.zero_point)
    return bytes(out)


class _Reader:
    """A bounds-checked cursor over a byte string; every error names the absolute offset."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None, what: str = "file"):
        self.data, self.pos, self.end, self.what = data, start, len(data) if end is None else end, what

    def fail(self, message: str, offset: int | None = None):
        raise VitcError(f".vitb: offset 0x{self.pos if offset is None else offset:x} ({self.what}): {message}")

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            self.fail(f"truncated: need {n} bytes, {self.end - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(chunk)

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        start = self.pos
        (n,) = self.unpack("H")
        try:
            return self.take(n).decode()
        except UnicodeDecodeError:
            self.fail("string is not valid UTF-8", start)


def read_vitb(data: bytes) -> Binary:
    """Parse and check a .vitb file; any defect raises VitcError naming the offset."""
    header = _Reader(data, what="header")
    if header.take(4) != MAGIC:
        header.fail(f"bad magic {bytes(data[:4])!r}, expected {MAGIC!r} (not a .vitb file)", 0)
    version, crc = header.unpack("II")
    if version != VERSION:
        header.fail(f"unsupported version {version}, this vitc reads version {VERSION}", 4)
    (count,) = header.unpack("I")
    if count != len(SECTION_TAGS):
        header.fail(f"{count} sections, expected {len(SECTION_TAGS)}", 12)
    config_hash = header.take(32).hex()
    dram_size, constants_addr = header.unpack("QQ")
    sections = [_section(header, data, tag) for tag in SECTION_TAGS]
    computed = zlib.crc32(memoryview(data)[12:])  # a view: no copy of the file
    if computed != crc:
        header.fail(f"checksum mismatch: stored 0x{crc:08x}, computed 0x{computed:08x} (file corrupt)", 8)
    code, constants = (data[start:end] for start, end in sections[:2])
    io = _read_io(_Reader(data, *sections[2], what="I/O table"))
    layers = _read_strings(_Reader(data, *sections[3], what="layer names"))
    binary = Binary(config_hash, bytes(code), bytes(constants), constants_addr, dram_size, io, layers)
    try:
        check_binary(binary)
    except VitcError as err:
        raise VitcError(f".vitb: {err}") from None
    offset = _first_difference(_layout(binary), data, 12)
    if offset is not None:
        header.fail("not in canonical layout (padding, section placement or trailing bytes)", offset)
    return binary


def _first_difference(pieces: list[bytes], data: bytes, start: int) -> int | None:
    """The first offset where `data` from `start` on differs from the concatenated `pieces` (or
    where one of them ends first), None when they are equal. Compares piece by piece, without
    copying the file: the bytes before `start` (magic, version, checksum) are checked already."""
    offset = start
    for piece in pieces:
        if not data.startswith(piece, offset):
            found = data[offset:offset + len(piece)]
            return offset + next((i for i, (a, b) in enumerate(zip(piece, found)) if a != b), min(len(piece), len(found)))
        offset += len(piece)
    return None if offset == len(data) else offset


def _section(header: _Reader, data: bytes, tag: bytes) -> tuple[int, int]:
    entry_at = header.pos
    found, reserved, offset, size = header.unpack("4sIQQ")
    if found != tag:
        header.fail(f"section {found!r} where {tag!r} was expected", entry_at)
    if reserved:
        header.fail(f"reserved word of section {tag.decode()} is {reserved}, not 0", entry_at + 4)
    if offset % SECTION_ALIGN or offset + size > len(data) or offset < HEADER_BYTES:
        header.fail(f"section {tag.decode()} at 0x{offset:x} ({size} bytes) lies outside the file of {len(data)} bytes", entry_at + 8)
    return offset, offset + size


def _read_strings(reader: _Reader) -> list[str]:
    (count,) = reader.unpack("I")
    texts = [reader.string() for _ in range(count)]
    _expect_end(reader)
    return texts


def _read_io(reader: _Reader) -> list[IOEntry]:
    (count,) = reader.unpack("I")
    entries = []
    for _ in range(count):
        start = reader.pos
        name = reader.string()
        (kind,) = reader.unpack("B")
        if kind >= len(IO_KINDS):
            reader.fail(f"I/O entry {name!r}: kind code {kind} is not 0 (input) or 1 (output)", reader.pos - 1)
        dtype = reader.string()
        if dtype not in DTYPES:
            reader.fail(f"I/O entry {name!r}: dtype {dtype!r} is not one of {', '.join(DTYPES)}", start)
        (ndim,) = reader.unpack("B")
        shape = reader.unpack(f"{ndim}Q")
        addr, scale, zero_point = reader.unpack("Qdq")
        entries.append(IOEntry(name, IO_KINDS[kind], dtype, tuple(shape), addr, scale, zero_point))
    _expect_end(reader)
    return entries


def _expect_end(reader: _Reader) -> None:
    if reader.pos != reader.end:
        reader.fail(f"{reader.end - reader.pos} unexpected bytes at the end of the section")
