"""Consumer groups across a restore (docs/config.md, "Consumer group
strategies"), the three-phase-restore report, show-offset-mapping, and
validate-restore.

The acceptance scenario: a real consumer group (Kafka's own
kafka-console-consumer, committing on close) reads part of three topics on the
source -- a plain one, a compacted one with real compaction gaps and a
transactional one with aborted transactions -- so that its committed offsets
fall on a compacted-away offset and on a transaction marker.  After a backup
and a restore with `exact` (topics renamed) and with `header-based` (same
names), the same group reads the rest on the target: what it read on the
source plus what it reads on the target must be every record exactly once."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from collections import Counter

import pytest

from conftest import (EXIT_BAD_INPUT, EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, KAFKA_BIN, SOURCE, TARGET,
                      assert_error, backup_config, cli_ok, commit_offsets, create_topic, describe_topic, dump,
                      end_offsets, parallel, produce, rec, restore_config, run_backup, run_cli, unb64, unique,
                      write_config)
from helpers.kafka import group_offsets

BASE_TS = 1_700_000_000_000
NULL = "<null>"
CSV_HEADER = ["source_topic", "source_partition", "source_offset", "target_topic", "target_partition",
              "target_offset", "count"]


# ------------------------------------------------------------------ helpers

def console_command(bootstrap: str, group: str, pattern: str, *extra: str) -> list[str]:
    """kafka-console-consumer in group `group` subscribed to the topics matching
    `pattern`, printing "Partition:P<TAB>Offset:O<TAB>key<TAB>value".  One record
    per poll, so the position it commits on close is right after the last
    record it printed."""
    return [str(KAFKA_BIN / "kafka-console-consumer"), "--bootstrap-server", bootstrap,
            "--group", group, "--include", pattern, "--from-beginning",
            "--isolation-level", "read_committed",
            "--command-property", "max.poll.records=1",
            "--formatter-property", "print.partition=true",
            "--formatter-property", "print.offset=true",
            "--formatter-property", "print.key=true",
            "--formatter-property", "key.separator=\t",
            "--formatter-property", f"null.literal={NULL}", *extra]


def parse_console_line(line: str) -> tuple[int, int, str, str]:
    part, off, key, value = line.split("\t", 3)
    assert part.startswith("Partition:") and off.startswith("Offset:"), line
    return int(part[len("Partition:"):]), int(off[len("Offset:"):]), key, value


def console_consume(bootstrap: str, group: str, pattern: str, max_messages: int | None = None,
                    idle_ms: int = 4000) -> list[tuple[int, int, str, str]]:
    """Runs the console consumer until it has printed max_messages records, or
    (without max_messages) until no record came for idle_ms; returns
    (partition, offset, key, value) of what it printed."""
    extra = ["--max-messages", str(max_messages)] if max_messages else ["--timeout-ms", str(idle_ms)]
    p = subprocess.run(console_command(bootstrap, group, pattern, *extra), capture_output=True, text=True,
                       timeout=120)
    # Without --max-messages it ends with a TimeoutException (logged) and exit code 0 or 1.
    if max_messages:
        assert p.returncode == 0, f"kafka-console-consumer exited {p.returncode}: {p.stderr[-2000:]}"
    out = [parse_console_line(l) for l in p.stdout.splitlines() if l.startswith("Partition:")]
    if max_messages:
        assert len(out) == max_messages, (out, p.stderr[-2000:])
    return out


def text(b64value: str | None) -> str:
    return NULL if b64value is None else unb64(b64value).decode()


def identity(topic_role: str, partition: int, key: str, value: str) -> tuple:
    return (topic_role, partition, key, value)


def role_of(value: str) -> str:
    return value.split("|", 1)[0]


def runs_from_csv(csv_text: str) -> tuple[list[str], list[dict]]:
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, r)) for r in body if r]


def mapped_offset(runs: list[dict], topic: str, partition: int, offset: int) -> tuple[str, int, int] | None:
    """(target topic, partition, offset) of a source offset per the runs."""
    for r in runs:
        if r["source_topic"] == topic and int(r["source_partition"]) == partition:
            start, count = int(r["source_offset"]), int(r["count"])
            if start <= offset < start + count:
                return r["target_topic"], int(r["target_partition"]), int(r["target_offset"]) + offset - start
    return None


# ------------------------------------------------------------ the topics

def plain_records() -> list[dict]:
    return [rec(p, f"plain-{p}-{i}", f"plain|{p}|{i}", timestamp=BASE_TS + 10 * i + p)
            for p in range(3) for i in range(30)]


def compact_rounds() -> list[list[dict]]:
    """Round A writes c0..c19 (offsets 0..19); round B (in a new segment)
    writes the odd keys again (20..29); a last record rolls round B's segment.
    Compaction removes round A's odd keys: offsets 1, 3, ..., 19 become gaps.
    The broker rolls a segment by record timestamps (the first record's vs the
    new one's, against segment.ms=100), hence the steps of 10 s."""
    a = [rec(0, f"c{k}", f"compact|A|{k}", timestamp=BASE_TS + k) for k in range(20)]
    b = [rec(0, f"c{k}", f"compact|B|{k}", timestamp=BASE_TS + 10_000 + k) for k in range(1, 20, 2)]
    roll = [rec(0, "roll", "compact|roll", timestamp=BASE_TS + 20_000)]
    return [a, b, roll]


COMPACT_AFTER_CLEANING = 10 + 10 + 1


def make_compacted(topic: str, timeout: float = 45.0) -> list[dict]:
    create_topic(topic, 1, configs={"cleanup.policy": "compact", "segment.ms": "100",
                                    "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "100"})
    for batch in compact_rounds():        # one producer each: separate batches, so the broker rolls
        produce(topic, batch)
    deadline = time.monotonic() + timeout
    while True:
        records = dump(topic)
        if len(records) == COMPACT_AFTER_CLEANING:
            return records
        assert time.monotonic() < deadline, \
            f"the cleaner did not compact {topic} within {timeout}s ({len(records)} records left)"
        time.sleep(0.5)


def make_transactional(topic: str) -> None:
    """Offsets: n0..n2 (0-2), committed t1 (3-5, marker 6), aborted (7-9,
    marker 10), committed t2 (11-13, marker 14), n-after0..2 (15-17)."""
    create_topic(topic, 1)
    produce(topic, [rec(0, f"n{i}", f"txn|plain-before|{i}", timestamp=BASE_TS + i) for i in range(3)])

    def txn(name: str, end: str, t0: int) -> list[dict]:
        return ([{"txn": "begin"}]
                + [rec(0, f"{name}-{i}", f"txn|{name}|{i}", timestamp=BASE_TS + t0 + i) for i in range(3)]
                + [{"txn": end}])
    produce(topic, txn("t1", "commit", 10) + txn("aborted", "abort", 20) + txn("t2", "commit", 30),
            transactional_id=f"{topic}-txn")
    produce(topic, [rec(0, f"after{i}", f"txn|plain-after|{i}", timestamp=BASE_TS + 40 + i) for i in range(3)])


# ------------------------------------------------------ the scenario

@pytest.fixture(scope="module")
def groups_scenario(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("groups")
    base = unique("cg")
    topics = {role: f"{base}-{role}" for role in ("plain", "compact", "txn")}
    group = f"{base}-group"

    def plain():
        create_topic(topics["plain"], 3)
        produce(topics["plain"], plain_records())

    _, compacted, _ = parallel(plain, lambda: make_compacted(topics["compact"]),
                               lambda: make_transactional(topics["txn"]))

    # The group consumes part of each topic on the source (one topic per run:
    # the stopping point in the one-partition topics is deterministic).
    consumed = {}
    consumed["plain"] = console_consume(SOURCE, group, topics["plain"], max_messages=40)
    consumed["compact"] = console_consume(SOURCE, group, topics["compact"], max_messages=4)
    consumed["txn"] = console_consume(SOURCE, group, topics["txn"], max_messages=6)

    src, src_uncommitted, committed = parallel(
        lambda: {r: dump(t) for r, t in topics.items()},
        lambda: dump(topics["txn"], isolation="read_uncommitted"),
        lambda: group_offsets(group, SOURCE))
    assert src["compact"] == compacted, "the compacted topic changed after it had settled"
    assert len(src["plain"]) == 90 and len(src["txn"]) == 12

    storage = tmp / "store"
    summary = run_backup(tmp, backup_config(storage, list(topics.values()), backup_id="groups",
                                            include_offset_headers=True))
    assert summary["records"] == 90 + COMPACT_AFTER_CLEANING + 12, summary
    return {"tmp": tmp, "base": base, "topics": topics, "group": group, "consumed": consumed,
            "src": src, "src_uncommitted": src_uncommitted, "committed": committed, "storage": storage}


def test_source_consumer_stopped_on_a_gap_and_a_marker(groups_scenario):
    """The premise of the acceptance test: the group's committed positions on
    the source point at a compacted-away offset and at a transaction marker,
    right after the last records it printed."""
    s = groups_scenario
    t, committed = s["topics"], s["committed"]
    for role, recs in s["consumed"].items():
        last: dict[int, int] = {}
        for p, o, _, _ in recs:
            last[p] = max(last.get(p, -1), o)
        for p, o in last.items():
            assert committed[(t[role], p)] == o + 1, (role, p, committed)
    compact_offsets = {r["offset"] for r in s["src"]["compact"]}
    assert committed[(t["compact"], 0)] == 7 and 7 not in compact_offsets, committed
    txn_offsets = {r["offset"] for r in s["src_uncommitted"]}
    assert committed[(t["txn"], 0)] == 6 and 6 not in txn_offsets, "offset 6 should be a commit marker"


def expected_positions(src: list[dict], dst: list[dict], hwm: int, partition: int, committed: int) -> range:
    """Where a group that committed `committed` on the source must resume on
    the target: the target offset of the first restored record whose source
    offset is >= committed (matched by key and value); if there is none, the
    end of the target partition -- any offset from after its last record up
    to its high watermark (a restore may end with a transaction marker)."""
    later = [r for r in src if r["partition"] == partition and r["offset"] >= committed]
    tgt = [r for r in dst if r["partition"] == partition]
    if not later:
        return range((max(r["offset"] for r in tgt) + 1) if tgt else 0, hwm + 1)
    first = later[0]
    match = [r for r in tgt if (r["key"], r["value"]) == (first["key"], first["value"])]
    assert len(match) == 1, (first, match)
    return range(match[0]["offset"], match[0]["offset"] + 1)


def target_state(s: dict, names: dict[str, str]) -> tuple[dict, dict]:
    """Dumps and high watermarks of the restored topics."""
    roles = list(s["topics"])
    results = parallel(*[(lambda r=r: dump(names[r], TARGET)) for r in roles],
                       *[(lambda r=r: end_offsets(names[r], TARGET)) for r in roles], workers=6)
    dst = dict(zip(roles, results[:len(roles)]))
    hwm = {r: {p: latest for p, (_, latest) in e.items()} for r, e in zip(roles, results[len(roles):])}
    return dst, hwm


def check_positions(s: dict, strategy: str, report: dict, names: dict[str, str]) -> dict:
    """The report's positions are where the group must resume (see
    expected_positions); returns {(target topic, partition): position}."""
    topics, group = s["topics"], s["group"]
    dst, hwm = target_state(s, names)
    want = {}
    for role in topics:
        for p in range(3 if role == "plain" else 1):
            c = s["committed"].get((topics[role], p))
            if c is not None:
                want[(names[role], p)] = expected_positions(s["src"][role], dst[role], hwm[role][p], p, c)
    got = {(g["topic"], g["partition"]): g["offset"] for g in report["consumer_group_offsets"]
           if g["group_id"] == group}
    wrong = {k: (got.get(k), f"{w.start}..{w.stop - 1}") for k, w in want.items() if got.get(k) not in w}
    assert set(got) == set(want) and not wrong, \
        f"{strategy}: positions (got, expected) {wrong}; all positions {got}; source committed {s['committed']}"
    for g in report["consumer_group_offsets"]:
        role = next(r for r in topics if names[r] == g["topic"])
        assert g["from"] == f"{topics[role]}[{g['partition']}]@{s['committed'][(topics[role], g['partition'])]}", g
    return got


def check_resume(s: dict, strategy: str, report: dict, target_names: dict[str, str]) -> None:
    """The report's positions are the expected ones, they were committed, and
    the same group reading on the target completes the source exactly once."""
    topics, group = s["topics"], s["group"]
    assert report["consumer_group_strategy"] == strategy, report
    assert report["consumer_group_offsets_committed"] is True, report
    got = check_positions(s, strategy, report, target_names)

    # The same group, on the target, from its committed positions.
    pattern = "|".join(target_names[r] for r in topics)
    on_target = console_consume(TARGET, group, pattern)
    first_read: dict[tuple[str, int], int] = {}
    for p, o, key, value in on_target:
        first_read.setdefault((target_names[role_of(value)], p), o)
    for (name, p), o in first_read.items():
        assert o >= got.get((name, p), 0), f"{strategy}: the group started {name}[{p}] at {o}, before {got.get((name, p))}"

    everything = Counter(identity(role, r["partition"], text(r["key"]), text(r["value"]))
                         for role in topics for r in s["src"][role])
    seen = Counter(identity(role_of(v), p, k, v) for recs in s["consumed"].values() for p, _, k, v in recs)
    seen.update(identity(role_of(v), p, k, v) for p, _, k, v in on_target)
    missing = everything - seen
    twice = seen - everything
    assert not missing and not twice, (f"{strategy}: {sum(missing.values())} records never processed "
                                       f"{sorted(missing)[:10]}, {sum(twice.values())} processed twice "
                                       f"{sorted(twice)[:10]}")


def three_phase(tmp, cfg: dict, name: str) -> dict:
    path = write_config(tmp, cfg, name)
    return cli_ok(["three-phase-restore", "--config", path, "--format", "json"]).json()


def test_exact_strategy_resumes_group_without_loss_or_duplicates(groups_scenario):
    s = groups_scenario
    names = {role: f"{t}-exact" for role, t in s["topics"].items()}
    report = three_phase(s["tmp"], restore_config(
        s["storage"], backup_id="groups", topic_mapping={s["topics"][r]: names[r] for r in names},
        consumer_group_strategy="exact", consumer_groups=[s["group"]], reset_consumer_offsets=True,
        restore_id="exact"), "exact.yaml")
    assert report["records"] == 90 + COMPACT_AFTER_CLEANING + 12, report
    assert report["restore_id"] == "exact"
    check_resume(s, "exact", report, names)


def test_header_based_strategy_resumes_group_without_loss_or_duplicates(groups_scenario):
    s = groups_scenario
    names = dict(s["topics"])                  # not renamed
    report = three_phase(s["tmp"], restore_config(
        s["storage"], backup_id="groups", consumer_group_strategy="header-based", reset_consumer_offsets=True,
        restore_id="header"), "header.yaml")
    check_resume(s, "header-based", report, names)


def test_timestamp_based_and_report_only(groups_scenario):
    """timestamp-based (timestamps increase with offsets here, so it agrees
    with exact) commits; reset_consumer_offsets: false only reports; skip
    leaves groups alone.  Also the text report of three-phase-restore."""
    s = groups_scenario
    topics, group = s["topics"], s["group"]
    ts_names = {r: f"{t}-ts" for r, t in topics.items()}
    rep_names = {r: f"{t}-report" for r, t in topics.items()}
    skip_names = {r: f"{t}-skip" for r, t in topics.items()}
    ts = three_phase(s["tmp"], restore_config(
        s["storage"], backup_id="groups", topic_mapping={topics[r]: ts_names[r] for r in topics},
        consumer_group_strategy="timestamp-based", reset_consumer_offsets=True, include_offset_headers=False),
        "ts.yaml")
    path = write_config(s["tmp"], restore_config(
        s["storage"], backup_id="groups", topic_mapping={topics[r]: rep_names[r] for r in topics},
        consumer_group_strategy="exact"), "report.yaml")
    text_report = cli_ok(["three-phase-restore", "--config", path])
    skip = three_phase(s["tmp"], restore_config(
        s["storage"], backup_id="groups", topic_mapping={topics[r]: skip_names[r] for r in topics}), "skip.yaml")

    want = check_positions(s, "timestamp-based", ts, ts_names)
    assert ts["consumer_group_offsets_committed"] is True
    on_target = group_offsets(group, TARGET)
    assert {k: v for k, v in on_target.items() if k[0] in ts_names.values()} == want

    out = text_report.stdout
    for section in ("phase 1 (data)", "phase 2 (offset mapping)", "phase 3 (consumer groups)"):
        assert section in out, f"no '{section}' section:\n{out}"
    assert out.index("phase 1 (data)") < out.index("phase 2 (offset mapping)") < out.index("phase 3 (consumer groups)")
    assert group in out.split("phase 3 (consumer groups)", 1)[1], out
    assert not [k for k in on_target if k[0] in rep_names.values()], \
        f"reset_consumer_offsets: false committed offsets: {on_target}"

    assert skip["consumer_group_offsets"] == [] and skip["consumer_group_offsets_committed"] is False, skip
    assert not [k for k in on_target if k[0] in skip_names.values()], on_target


def test_show_offset_mapping_reproduces_target_offsets(groups_scenario):
    """For the `exact` restore: every backed-up record is where the runs say
    (compaction gaps and transaction markers start new runs)."""
    s = groups_scenario
    storage, topics = s["storage"], s["topics"]
    # Needs the exact restore; restore it here if that test was not selected.
    if not (storage / "restores" / "groups" / "exact").exists():
        test_exact_strategy_resumes_group_without_loss_or_duplicates(groups_scenario)
    r = cli_ok(["show-offset-mapping", "--path", storage, "--backup-id", "groups", "--restore-id", "exact",
                "--format", "csv"])
    header, runs = runs_from_csv(r.stdout)
    assert header == CSV_HEADER, header
    as_json = cli_ok(["show-offset-mapping", "--path", storage, "--backup-id", "groups", "--restore-id", "exact",
                      "--format", "json"]).json()
    assert as_json["restore_id"] == "exact" and as_json["backup_id"] == "groups", as_json
    text_out = cli_ok(["show-offset-mapping", "--path", storage, "--backup-id", "groups",
                       "--restore-id", "exact"]).stdout
    assert "exact" in text_out and f"{topics['compact']}-exact" in text_out, text_out

    for role, t in topics.items():
        dst = dump(f"{t}-exact", TARGET)
        where = {(r["key"], r["value"]): (r["partition"], r["offset"]) for r in dst}
        for rcd in s["src"][role]:
            m = mapped_offset(runs, t, rcd["partition"], rcd["offset"])
            assert m is not None, f"{t}[{rcd['partition']}]@{rcd['offset']} is in no run: {runs}"
            assert m[0] == f"{t}-exact"
            assert (m[1], m[2]) == where[(rcd["key"], rcd["value"])], (role, rcd["offset"], m)
        # No run covers an offset the backup does not hold (gaps, markers, aborted records).
        held = {(r["partition"], r["offset"]) for r in s["src"][role]}
        for row in runs:
            if row["source_topic"] == t:
                for o in range(int(row["source_offset"]), int(row["source_offset"]) + int(row["count"])):
                    assert (int(row["source_partition"]), o) in held, (role, row)
    # The compacted topic's gaps do make several runs.
    assert len([r for r in runs if r["source_topic"] == topics["compact"]]) >= 10


# ---------------------------------------------------------- conflicts

def start_member(group: str, topic: str) -> subprocess.Popen:
    """A console consumer that stays in `group` on the target; returns once it
    has read the record waiting in `topic` (so it is a member, with partitions).
    It never commits: the group's offsets stay what the test set them to."""
    cmd = console_command(TARGET, group, topic, "--command-property", "enable.auto.commit=false")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    line = proc.stdout.readline()     # blocks until the first record is printed
    if not line.startswith("Partition:") or time.monotonic() > deadline:
        stop_member(proc)
        pytest.fail(f"the console consumer did not join {group}: {line!r} {proc.stderr.read()[-2000:]}")
    return proc


def stop_member(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)       # its own session: only this consumer
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_group_with_active_members_on_target_is_a_conflict(tmp_path):
    base = unique("busy")
    topic, busy_topic, group = f"{base}-data", f"{base}-elsewhere", f"{base}-group"
    parallel(lambda: create_topic(topic, 2), lambda: create_topic(busy_topic, 1, TARGET))
    parallel(lambda: produce(topic, [rec(p, f"k{p}{i}", f"v{p}{i}", timestamp=BASE_TS + i)
                                     for p in range(2) for i in range(5)]),
             lambda: produce(busy_topic, [rec(0, "here", "a record to read", timestamp=BASE_TS)], TARGET))
    commit_offsets(group, topic, {0: 2, 1: 4})
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="busy"))
    cfg = write_config(tmp_path, restore_config(storage, backup_id="busy", consumer_group_strategy="exact",
                                                reset_consumer_offsets=True, restore_id="busy"))

    member = start_member(group, busy_topic)
    try:
        before = group_offsets(group, TARGET)
        r = run_cli(["restore", "--config", cfg])
        assert_error(r, EXIT_CONFLICT, group)
        r3 = run_cli(["three-phase-restore", "--config", cfg])
        assert_error(r3, EXIT_CONFLICT, group)
        v = run_cli(["validate-restore", "--config", cfg, "--format", "json"])
        assert v.rc == EXIT_BAD_INPUT, v.describe()
        failed = [c for c in v.json()["checks"] if not c["ok"]]
        assert failed and group in failed[0]["detail"], v.json()
        assert describe_topic(topic, TARGET, check=False) is None, "a refused restore created the topic"
        assert group_offsets(group, TARGET) == before
        assert not (storage / "restores" / "busy" / "busy" / "offset-map.json").exists()
    finally:
        stop_member(member)

    # Without the member the same restore goes through.
    ok = cli_ok(["restore", "--config", cfg, "--format", "json"]).json()
    assert ok["consumer_group_offsets_committed"] is True
    assert {(k[1], v) for k, v in group_offsets(group, TARGET).items() if k[0] == topic} == {(0, 2), (1, 4)}


def test_consumer_group_globs_at_backup_and_restore(tmp_path):
    base = unique("globs")
    topic = f"{base}-t"
    create_topic(topic, 1)
    produce(topic, [rec(0, f"k{i}", f"v{i}", timestamp=BASE_TS + i) for i in range(10)])
    groups = {f"{base}-orders-1": 1, f"{base}-orders-2": 2, f"{base}-audit": 3}
    parallel(*[(lambda g=g, o=o: commit_offsets(g, topic, {0: o})) for g, o in groups.items()])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="some",
                                       consumer_groups=[f"{base}-orders-*"]), "some.yaml")
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="all"), "all.yaml")

    def positions(backup_id: str, **opts) -> dict[str, int]:
        cfg = restore_config(storage, backup_id=backup_id, topic_mapping={topic: f"{topic}-{backup_id}-{len(opts)}"},
                             consumer_group_strategy="exact", **opts)
        rep = three_phase(tmp_path, cfg, f"{backup_id}-{len(opts)}.yaml")
        return {g["group_id"]: g["offset"] for g in rep["consumer_group_offsets"]}

    assert positions("some") == {f"{base}-orders-1": 1, f"{base}-orders-2": 2}
    assert positions("all", consumer_groups=[f"{base}-a*", f"{base}-orders-2"]) == \
        {f"{base}-audit": 3, f"{base}-orders-2": 2}
    # A literal group name the backup has no offsets for: not found, listing those it has.
    cfg = write_config(tmp_path, restore_config(storage, backup_id="some", consumer_group_strategy="exact",
                                                consumer_groups=[f"{base}-audit"]), "missing.yaml")
    r = run_cli(["restore", "--config", cfg])
    assert_error(r, EXIT_NOT_FOUND, f"{base}-audit", f"{base}-orders-1")
    # reset_consumer_offsets needs a strategy.
    cfg = write_config(tmp_path, restore_config(storage, backup_id="some", reset_consumer_offsets=True),
                       "noskip.yaml")
    assert_error(run_cli(["restore", "--config", cfg]), EXIT_BAD_INPUT, "consumer_group_strategy")


# ------------------------------------------------------ validate-restore

def test_validate_restore_writes_nothing_and_reports_problems(tmp_path):
    base = unique("vr")
    topic, full = f"{base}-t", f"{base}-full"
    parallel(lambda: create_topic(topic, 2), lambda: create_topic(full, 2, TARGET))
    parallel(lambda: produce(topic, [rec(p, f"k{p}{i}", f"v{p}{i}", timestamp=BASE_TS + i)
                                     for p in range(2) for i in range(4)]),
             lambda: produce(full, [rec(0, "already", "there", timestamp=BASE_TS)], TARGET))
    commit_offsets(f"{base}-group", topic, {0: 1})
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="vr"))

    # All good: exit 0, ok, and nothing written (no topic, no offset map, no group offsets).
    good = write_config(tmp_path, restore_config(storage, backup_id="vr", consumer_group_strategy="exact",
                                                 reset_consumer_offsets=True), "good.yaml")
    r = run_cli(["validate-restore", "--config", good, "--format", "json"])
    assert r.rc == 0, r.describe()
    doc = r.json()
    assert doc["backup_id"] == "vr" and doc["ok"] is True, doc
    assert all(set(c) == {"name", "ok", "detail"} and c["ok"] for c in doc["checks"]), doc
    assert cli_ok(["validate-restore", "--config", good]).stdout.strip().endswith("restore configuration is valid")
    assert not (storage / "restores").exists(), list((storage / "restores").rglob("*"))
    assert describe_topic(topic, TARGET, check=False) is None, "validate-restore created the target topic"
    assert group_offsets(f"{base}-group", TARGET) == {}

    # Target topic already holding data, on_existing_data: fail (default).
    into_full = write_config(tmp_path, restore_config(storage, backup_id="vr", topic_mapping={topic: full}),
                             "full.yaml")
    r = run_cli(["validate-restore", "--config", into_full, "--format", "json"])
    assert r.rc == EXIT_BAD_INPUT, r.describe()
    failed = [c for c in r.json()["checks"] if not c["ok"]]
    assert failed and full in failed[0]["detail"], r.json()
    t = run_cli(["validate-restore", "--config", into_full])
    assert t.rc == EXIT_BAD_INPUT and "FAIL" in t.stdout and "restore configuration has problems" in t.stdout, t
    # ... and the real restore refuses it as a conflict.
    assert_error(run_cli(["three-phase-restore", "--config", into_full]), EXIT_CONFLICT, full)
    assert len(dump(full, TARGET)) == 1
    # With append it validates.
    append = write_config(tmp_path, restore_config(storage, backup_id="vr", topic_mapping={topic: full},
                                                   on_existing_data="append"), "append.yaml")
    assert run_cli(["validate-restore", "--config", append]).rc == 0

    # A window selecting nothing (outside every record's time).
    window = write_config(tmp_path, restore_config(storage, backup_id="vr", time_window_start=BASE_TS + 100,
                                                   time_window_end=BASE_TS + 200), "window.yaml")
    r = run_cli(["validate-restore", "--config", window, "--format", "json"])
    assert r.rc == EXIT_BAD_INPUT, r.describe()
    assert [c["name"] for c in r.json()["checks"] if not c["ok"]] == ["time window"], r.json()

    # An unreachable target.
    cfg = restore_config(storage, backup_id="vr", bootstrap="127.0.0.1:1")
    cfg["target"]["connect_timeout_secs"] = 3
    r = run_cli(["validate-restore", "--config", write_config(tmp_path, cfg, "unreachable.yaml"),
                 "--format", "json"], timeout=60)
    assert r.rc == EXIT_UNAVAILABLE, r.describe()
    failed = [c for c in r.json()["checks"] if not c["ok"]]
    assert failed and "127.0.0.1:1" in failed[0]["detail"], r.json()
    assert not (storage / "restores").exists()


def test_validate_restore_unknown_backup_id_is_not_found(tmp_path):
    """Exit 3 (not found) as for every other command given an unknown backup
    id, naming it and the ids there are."""
    topic = unique("vr-nf")
    create_topic(topic, 1)
    produce(topic, [rec(0, "k", "v", timestamp=BASE_TS)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="there"))
    cfg = write_config(tmp_path, restore_config(storage, backup_id="there"))
    r = run_cli(["validate-restore", "--config", cfg, "--backup-id", "nope", "--format", "json"])
    assert r.rc == EXIT_NOT_FOUND, r.describe()
    assert "nope" in r.stdout + r.stderr and "there" in r.stdout + r.stderr, r.describe()
    assert describe_topic(topic, TARGET, check=False) is None
