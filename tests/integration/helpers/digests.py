"""Content digests (docs/format/digest.md) computed from records as Kafka's own client reads them
(kafka-peer dump lines), sharing no code with the product: what a backup's manifest must say."""

from __future__ import annotations

import base64
import struct
from typing import Iterable

import xxhash

TIMESTAMP_TYPES = {"NoTimestampType": 0, "CreateTime": 1, "LogAppendTime": 2}
EMPTY = "xxh3-128:99aa06d3014798d86001c324468d497f"


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _nbytes(b: bytes | None) -> bytes:
    return b"\x00" if b is None else _varint(len(b) + 1) + b


def _b(s: str | None) -> bytes | None:
    return None if s is None else base64.b64decode(s)


def encode(r: dict) -> bytes:
    """A dump line's record as the digest hashes it: offset delta 0, timestamp from 0."""
    ts = r["timestamp"]
    out = bytes([TIMESTAMP_TYPES[r.get("timestamp_type", "CreateTime")]]) + b"\x00"
    out += _varint(((ts << 1) ^ (ts >> 63)) & 0xFFFFFFFFFFFFFFFF)
    out += _nbytes(_b(r["key"])) + _nbytes(_b(r["value"])) + _varint(len(r["headers"]))
    for name, value in r["headers"]:
        name_bytes = name.encode()
        out += _varint(len(name_bytes)) + name_bytes + _nbytes(_b(value))
    return out


def segment_digest(records: Iterable[dict]) -> str:
    h = xxhash.xxh3_128()
    for r in records:
        h.update(encode(r))
    return "xxh3-128:" + h.hexdigest()


def partition_digest(segment_digests_and_counts: Iterable[tuple[str, int]]) -> str:
    chain = b""
    for digest, count in segment_digests_and_counts:
        chain += bytes.fromhex(digest.split(":", 1)[1]) + struct.pack("<Q", count)
    return "xxh3-128:" + xxhash.xxh3_128(chain).hexdigest()


def expected(partition_manifest: dict, records: list[dict]) -> tuple[list[str], str]:
    """The segment digests and the partition digest that `records` (one partition's, in offset
    order) have when split as the manifest's segments split them."""
    digests, at = [], 0
    for seg in partition_manifest["segments"]:
        digests.append(segment_digest(records[at:at + seg["record_count"]]))
        at += seg["record_count"]
    assert at == len(records), f"the segments hold {at} records, the partition has {len(records)}"
    counts = [s["record_count"] for s in partition_manifest["segments"]]
    return digests, partition_digest(zip(digests, counts))
