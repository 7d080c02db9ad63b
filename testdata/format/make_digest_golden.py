#!/usr/bin/env python3
"""Writes testdata/format/digest-example.json from docs/format/digest.md alone.

An independent implementation of the documented digest (it shares no code with
src/format; XXH3-128 from the 'xxhash' module, Debian's python3-xxhash), so the
C++ unit test reproducing its values shows that the document and the code
agree. Run it only to re-create the golden file; the committed file must never
change, since backups store these digests.
"""
import base64, json, pathlib, struct
import xxhash

def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def zigzag(n: int) -> bytes:
    return varint(((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF)

def nbytes(b):
    return b"\x00" if b is None else varint(len(b) + 1) + b

def encode(r) -> bytes:
    # A record as the first of a block at its own offset: offset delta 0,
    # timestamp delta from 0 (docs/format/digest.md, "Records").
    out = bytes([r["timestamp_type"]]) + varint(0) + zigzag(r["timestamp"])
    out += nbytes(r["key"]) + nbytes(r["value"]) + varint(len(r["headers"]))
    for name, value in r["headers"]:
        out += varint(len(name)) + name + nbytes(value)
    return out

def digest(h) -> str:
    return "xxh3-128:" + h.hexdigest()

segments = [
    [  # the records of testdata/format/v1-example.kbseg
        {"offset": 5, "timestamp": 1000, "timestamp_type": 1, "key": b"k", "value": b"v", "headers": [(b"h", None)]},
        {"offset": 7, "timestamp": 999, "timestamp_type": 1, "key": None, "value": None, "headers": []},
    ],
    [
        {"offset": 8, "timestamp": -1, "timestamp_type": 0, "key": b"", "value": b"", "headers": []},
        {"offset": 12, "timestamp": 1764068000000, "timestamp_type": 2, "key": bytes(range(256)),
         "value": b"x" * 300, "headers": [(b"dup", b"a"), (b"dup", b"b"), (b"empty", b"")]},
    ],
    [],  # a segment can only be empty in theory; the fold must still be defined
]

out = {"algorithm": "xxh3-128", "segments": []}
chain = b""
for records in segments:
    h = xxhash.xxh3_128()
    doc = []
    for r in records:
        enc = encode(r)
        h.update(enc)
        doc.append({"offset": r["offset"], "timestamp": r["timestamp"], "timestamp_type": r["timestamp_type"],
                    "key": None if r["key"] is None else base64.b64encode(r["key"]).decode(),
                    "value": None if r["value"] is None else base64.b64encode(r["value"]).decode(),
                    "headers": [[base64.b64encode(n).decode(), None if v is None else base64.b64encode(v).decode()]
                                for n, v in r["headers"]],
                    "encoded": enc.hex()})
    out["segments"].append({"records": doc, "digest": digest(h)})
    chain += h.digest() + struct.pack("<Q", len(records))
out["partition_digest"] = digest(xxhash.xxh3_128(chain))
out["empty_partition_digest"] = digest(xxhash.xxh3_128(b""))

path = pathlib.Path(__file__).with_name("digest-example.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(path, out["partition_digest"])
