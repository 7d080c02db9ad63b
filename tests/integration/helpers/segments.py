"""Segment files (docs/format/segment.md) read from their own bytes, so the tests do not depend
on key layouts or on the product's parser: the header, the block index, CRC32C to re-seal a
block after tampering with it."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


class Block(NamedTuple):
    """One entry of a segment's block index."""
    pos: int
    size: int
    records: int
    first: int  # first offset
    last: int   # last offset


def segment_index(data: bytes) -> tuple[int, int, list[Block]]:
    """(index position, record count, blocks) from a segment's trailer and index."""
    index_pos, count, _crc, records, magic = struct.unpack("<QIIQ8s", data[-32:])
    assert magic == b"KBSEGEND", "not a segment (no KBSEGEND trailer)"
    return index_pos, records, [Block(*struct.unpack_from("<QIIqq", data, index_pos + 48 * i)) for i in range(count)]


class Segment:
    """A segment file of a backup, parsed from its bytes."""

    def __init__(self, storage: Path, path: Path):
        self.path = path
        self.key = path.relative_to(storage).as_posix()
        data = path.read_bytes()
        self.size = len(data)
        self.version, _codec, flags = struct.unpack_from("<HBB", data, 8)
        self.encrypted = bool(flags & 1)
        self.partition = struct.unpack_from("<i", data, 12)[0]
        topic_len = struct.unpack_from("<H", data, 16)[0]
        # An encrypted segment's header also holds the key id (8) and the wrapped data key (60).
        self.header_size = 18 + topic_len + (8 + 60 if self.encrypted else 0) + 4
        self.index_pos, self.records, self.blocks = segment_index(data)
        self.first_offset, self.last_offset = self.blocks[0].first, self.blocks[-1].last

    def flip(self, position: int, mask: int = 0x10) -> None:
        data = bytearray(self.path.read_bytes())
        data[position] ^= mask
        self.path.write_bytes(bytes(data))

    def truncate(self, size: int) -> None:
        self.path.write_bytes(self.path.read_bytes()[:size])

    def block_at(self, offset: int) -> Block:
        return next(b for b in self.blocks if b.first <= offset <= b.last)

    def tamper_block(self, i: int, at: int) -> int:
        """Flips a bit `at` bytes into block i's payload and recomputes its CRC, so that only
        authentication (of an encrypted block) can find it; returns the block's position."""
        pos, size = self.blocks[i].pos, self.blocks[i].size
        data = bytearray(self.path.read_bytes())
        data[pos + 48 + at] ^= 0x04
        crc = crc32c(bytes(data[pos:pos + 44]) + bytes(data[pos + 48:pos + size]))
        struct.pack_into("<I", data, pos + 44, crc)
        self.path.write_bytes(bytes(data))
        return pos

    def tamper_wrapped_key(self) -> None:
        """Flips a bit inside the encrypted data key of the header and re-seals the header's CRC."""
        data = bytearray(self.path.read_bytes())
        data[self.header_size - 4 - 30] ^= 0x01
        struct.pack_into("<I", data, self.header_size - 4, crc32c(bytes(data[:self.header_size - 4])))
        self.path.write_bytes(bytes(data))
