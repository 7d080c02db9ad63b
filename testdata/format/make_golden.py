#!/usr/bin/env python3
"""Writes testdata/format/v1-example.kbseg and v2-encrypted-example.kbseg from
docs/format/segment.md alone (the encrypted one with the TEST key in
test-encryption.key: bytes 00..1f, public, never for real data; AES-GCM from
the Python 'cryptography' package).

This is an independent implementation of the documented layout (it shares no
code with src/format), so the C++ reader decoding its output shows that the
document and the code agree. Run it only to re-create the golden file; the
committed files must never change.
"""
import struct, sys, pathlib

def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF

def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def zigzag(n: int) -> bytes:
    return varint((n << 1) ^ (n >> 63) if n < 0 else n << 1)

def nbytes(b):
    return b"\x00" if b is None else varint(len(b) + 1) + b

assert crc32c(b"123456789") == 0xE3069283

header = b"KBSEG\r\n\x1a" + struct.pack("<HBBiH", 1, 0, 0, 0, 1) + b"t"
header += struct.pack("<I", crc32c(header))

rec1 = b"\x01" + varint(0) + zigzag(1000 - 0) + nbytes(b"k") + nbytes(b"v") + varint(1) + varint(1) + b"h" + nbytes(None)
rec2 = b"\x01" + varint(2) + zigzag(999 - 1000) + nbytes(None) + nbytes(None) + varint(0)
payload = rec1 + rec2
assert len(rec1) == 12 and len(rec2) == 6

fields = struct.pack("<IIIqqqq", len(payload), len(payload), 2, 5, 7, 999, 1000)
block = fields + struct.pack("<I", crc32c(fields + payload)) + payload
block_pos = len(header)
index = struct.pack("<QIIqqqq", block_pos, len(block), 2, 5, 7, 999, 1000)
index_pos = block_pos + len(block)
trailer = struct.pack("<QIIQ", index_pos, 1, crc32c(index), 2) + b"KBSEGEND"
seg = header + block + index + trailer

out = pathlib.Path(__file__).with_name("v1-example.kbseg")
out.write_bytes(seg)
print(f"wrote {out} ({len(seg)} bytes)")

# Version 2: the same segment encrypted (docs/format/segment.md, "Encryption"),
# with the test key in test-encryption.key and fixed data key and nonces.
import hmac, hashlib
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

user_key = bytes(range(0x00, 0x20))
key_file = pathlib.Path(__file__).with_name("test-encryption.key")
assert bytes.fromhex(key_file.read_text().strip()) == user_key
key_id = hmac.new(user_key, b"kafka-backup key id v1", hashlib.sha256).digest()[:8]
data_key = bytes(range(0x20, 0x40))
wrap_nonce = b"\xa0" * 12
prefix = b"\xb0\xb1\xb2\xb3"

head = b"KBSEG\r\n\x1a" + struct.pack("<HBBiH", 2, 0, 1, 0, 1) + b"t" + key_id
head += wrap_nonce + AESGCM(user_key).encrypt(wrap_nonce, data_key, head)
head += struct.pack("<I", crc32c(head))
assert len(head) == 91
block_pos = len(head)
nonce = prefix + struct.pack("<Q", 0)
fields = struct.pack("<IIIqqqq", len(payload) + 28, len(payload), 2, 5, 7, 999, 1000)
stored = nonce + AESGCM(data_key).encrypt(nonce, payload, fields + struct.pack("<Q", block_pos))
block = fields + struct.pack("<I", crc32c(fields + stored)) + stored
index = struct.pack("<QIIqqqq", block_pos, len(block), 2, 5, 7, 999, 1000)
index_pos = block_pos + len(block)
trailer = struct.pack("<QIIQ", index_pos, 1, crc32c(index), 2) + b"KBSEGEND"
enc = head + block + index + trailer
out = pathlib.Path(__file__).with_name("v2-encrypted-example.kbseg")
out.write_bytes(enc)
print(f"wrote {out} ({len(enc)} bytes, key id {key_id.hex()})")
