"""Cluster-side operations the product does not do for the tests: Kafka's delete-records
tool, a group's committed offsets as the Java peer reads them."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

from conftest import KAFKA_BIN, SOURCE, peer


def delete_records(topic: str, partition: int, before: int) -> None:
    """Kafka's delete-records: the broker drops every offset below `before`."""
    spec = json.dumps({"version": 1, "partitions": [{"topic": topic, "partition": partition, "offset": before}]})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(spec)
    p = subprocess.run([str(KAFKA_BIN / "kafka-run-class"), "org.apache.kafka.tools.DeleteRecordsCommand",
                        "--bootstrap-server", SOURCE, "--offset-json-file", f.name],
                       capture_output=True, text=True, timeout=120)
    os.unlink(f.name)
    assert p.returncode == 0, p.stdout + p.stderr


def group_offsets(group: str, bootstrap: str) -> dict[tuple[str, int], int]:
    p = peer("group-offsets", "--bootstrap", bootstrap, "--group", group)
    out = {}
    for l in p.stdout.splitlines():
        if l.strip():
            d = json.loads(l)
            out[(d["topic"], d["partition"])] = d["offset"]
    return out
