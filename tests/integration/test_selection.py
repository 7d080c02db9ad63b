"""Topic selection: include/exclude globs at backup, internal topics, and
restore.topics."""

from __future__ import annotations

from conftest import (EXIT_NOT_FOUND, TARGET, assert_error, assert_same_records, backup_config,
                      cli_ok, commit_offsets, create_topic, describe_topic, dump, parallel, produce,
                      rec, restore_config, run_backup, run_cli, run_restore, unique, write_config)


def only_prefixes_kept(prefix: str) -> list[str]:
    """fnmatch patterns that exclude every topic name except those starting
    with `prefix` or with '_' (internal topics), so an include of "*" does not
    drag in every other topic on the shared source cluster while internal
    topics still reach the product's own internal-topic rule."""
    assert prefix[0] not in "_-[]!*?" and all(c.isalnum() or c == "-" for c in prefix)
    pats = [f"[!_{prefix[0]}]*", "_[!_]*"]
    for i in range(1, len(prefix)):
        pats.append(f"{prefix[:i]}[!{prefix[i]}]*")
        pats.append(prefix[:i])
    return pats


def backup_topics(storage, backup_id) -> list[str]:
    desc = cli_ok(["describe", "--path", storage, "--backup-id", backup_id, "--format", "json"]).json()
    return sorted(t["name"] for t in desc["topics"])


def test_include_exclude_globs_and_internal_topics(tmp_path):
    base = unique("sel")
    names = {s: f"{base}-{s}" for s in ("orders-a", "orders-b", "payments", "orders-tmp", "audit")}
    parallel(*[(lambda n=n: create_topic(n, 2)) for n in names.values()])
    parallel(
        lambda: produce(names["orders-a"], [rec(p, f"a{p}", f"order a {p}", timestamp=1000 + p) for p in range(2)]),
        # __consumer_offsets exists once a group has committed an offset.
        lambda: commit_offsets(f"{base}-group", names["orders-a"], {0: 0}),
    )
    assert describe_topic("__consumer_offsets") is not None
    storage = tmp_path / "store"

    # Globs with an exclude.
    run_backup(tmp_path, backup_config(storage, [f"{base}-orders-*", names["payments"]], backup_id="globs",
                                       exclude=["*-tmp"]), name="globs.yaml")
    assert backup_topics(storage, "globs") == sorted([names["orders-a"], names["orders-b"], names["payments"]])

    # A glob matching nothing is fine (an empty selection of that pattern).
    run_backup(tmp_path, backup_config(storage, [names["audit"], f"{base}-nothing-*"], backup_id="noglob"),
               name="noglob.yaml")
    assert backup_topics(storage, "noglob") == [names["audit"]]

    # "*": everything (here: everything of this test), but no internal topic.
    everything = run_backup(tmp_path, backup_config(storage, ["*"], backup_id="star",
                                                    exclude=only_prefixes_kept(base)), name="star.yaml")
    star = backup_topics(storage, "star")
    assert "__consumer_offsets" not in star
    assert not [t for t in star if t.startswith("_")], star
    assert star == sorted(names.values()), star
    assert everything["topics"] == len(names)

    # "__*" is a glob too: internal topics still need a literal name.
    run_backup(tmp_path, backup_config(storage, ["__*", names["audit"]], backup_id="underscore"),
               name="underscore.yaml")
    assert backup_topics(storage, "underscore") == [names["audit"]]

    # A literal name selects an internal topic.
    run_backup(tmp_path, backup_config(storage, ["__consumer_offsets"], backup_id="literal"),
               name="literal.yaml")
    assert backup_topics(storage, "literal") == ["__consumer_offsets"]


def test_restore_topics_selects_a_subset(tmp_path):
    base = unique("subset")
    a, b, c = f"{base}-alpha", f"{base}-beta", f"{base}-gamma"
    parallel(*[(lambda n=n: create_topic(n, 2)) for n in (a, b, c)])
    parallel(*[(lambda n=n: produce(n, [rec(p, f"{n}-{p}", f"value {n} {p}", timestamp=5000 + p)
                                         for p in range(2)])) for n in (a, b, c)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [f"{base}-*"], backup_id="three"))
    assert backup_topics(storage, "three") == sorted([a, b, c])

    # A literal name and a glob.
    result = run_restore(tmp_path, restore_config(storage, backup_id="three", topics=[a, f"{base}-gam*"]))
    assert sorted(t["name"] for t in result["topics"]) == sorted([a, c]), result
    src_a, dst_a, dst_c, src_c, dst_b = parallel(
        lambda: dump(a), lambda: dump(a, TARGET), lambda: dump(c, TARGET), lambda: dump(c),
        lambda: describe_topic(b, TARGET, check=False))
    assert_same_records(src_a, dst_a, what=a)
    assert_same_records(src_c, dst_c, what=c)
    assert dst_b is None, f"{b} was not selected but exists on the target: {dst_b}"

    # A topic the backup does not hold: not found, naming it and the ones there are.
    missing = f"{base}-delta"
    cfg = write_config(tmp_path, restore_config(storage, backup_id="three", topics=[missing]), "missing.yaml")
    r = run_cli(["restore", "--config", cfg])
    line = assert_error(r, EXIT_NOT_FOUND, missing, a, b, c)
    assert describe_topic(missing, TARGET, check=False) is None, line


def test_restore_time_window_is_inclusive(tmp_path):
    topic = unique("window")
    create_topic(topic, 2)
    # Timestamps 1000..1011, not in time order within a partition.
    stamps = [1005, 1000, 1011, 1003, 1006, 1002, 1009, 1004, 1001, 1010, 1007, 1008]
    produce(topic, [rec(i % 2, f"k{i}", f"at {ts}", timestamp=ts) for i, ts in enumerate(stamps)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="window"))
    run_restore(tmp_path, restore_config(storage, backup_id="window", time_window_start=1003,
                                         time_window_end=1006))
    src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
    expected = [r for r in src if 1003 <= r["timestamp"] <= 1006]
    assert sorted(r["timestamp"] for r in dst) == [1003, 1004, 1005, 1006]
    assert_same_records(expected, dst, what=topic)


def test_a_missing_literal_include_fails_or_with_on_missing_warn_is_reported(tmp_path):
    """source.topics.on_missing: a literal include naming no topic stops the
    backup by default (exit 3, naming it and the key that allows it); with
    `warn` the backup takes the rest and reports the name (log, summary,
    manifest, describe); a bad value is exit 2."""
    from conftest import EXIT_BAD_INPUT
    topic = unique("onmiss")
    absent = unique("onmiss-absent")
    create_topic(topic, 2)
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}") for i in range(40)])
    storage = tmp_path / "store"

    cfg = backup_config(storage, [topic, absent], backup_id="strict")
    assert_error(run_cli(["backup", "--config", write_config(tmp_path, cfg, "strict.yaml")]), EXIT_NOT_FOUND,
                 absent, "on_missing: warn")

    cfg = backup_config(storage, [topic, absent], backup_id="lenient")
    cfg["source"]["topics"]["on_missing"] = "warn"
    r = cli_ok(["backup", "--config", write_config(tmp_path, cfg, "warn.yaml"), "--format", "json"])
    summary = r.json()
    assert summary["missing_topics"] == [absent] and summary["records"] == 40, summary
    assert any(absent in l and "on_missing: warn" in l for l in r.stderr.splitlines() if " warn" in l), r.stderr
    text = cli_ok(["backup", "--config", write_config(tmp_path, dict(cfg, backup_id="lenient-2"), "warn2.yaml")])
    assert f"did not exist and was not backed up: {absent}" in text.stdout, text.stdout
    desc = cli_ok(["describe", "--path", storage, "--backup-id", "lenient", "--format", "json"]).json()
    assert desc["missing_topics"] == [absent] and [t["name"] for t in desc["topics"]] == [topic], desc
    assert absent in cli_ok(["describe", "--path", storage, "--backup-id", "lenient"]).stdout
    target = unique("onmiss-restored")
    run_restore(tmp_path, restore_config(storage, "lenient", topic_mapping={topic: target}))
    assert_same_records(dump(topic), dump(target, TARGET))

    cfg["source"]["topics"]["on_missing"] = "ignore"
    assert_error(run_cli(["backup", "--config", write_config(tmp_path, cfg, "bad.yaml")]), EXIT_BAD_INPUT,
                 "on_missing", "expected fail or warn", "bad.yaml")


def test_start_offset_earliest_latest_time_and_per_topic(tmp_path):
    """backup.start_offset: where a chain of backups begins each partition.
    A time takes the first record at or after it (epoch ms or RFC 3339), per
    topic over the default; `latest` stores nothing that exists when it
    starts, and an incremental backup after it holds exactly what came
    since; a bad value is exit 2 naming the key."""
    from conftest import EXIT_BAD_INPUT
    timed, other = unique("start-timed"), unique("start-other")
    parallel(lambda: create_topic(timed, 2), lambda: create_topic(other, 1))
    # Timestamps 1000..1019, increasing within each partition.
    parallel(lambda: produce(timed, [rec(i % 2, f"k{i}", f"v{i}", timestamp=1000 + i) for i in range(20)]),
             lambda: produce(other, [rec(0, f"o{i}", f"o{i}", timestamp=1000 + i) for i in range(10)]))
    storage = tmp_path / "store"

    # By time, epoch ms for one topic (a glob), RFC 3339 for the other; the default is earliest.
    run_backup(tmp_path, backup_config(storage, [timed, other], backup_id="by-time",
                                       start_offset_topics={"*-start-timed-*": 1012,
                                                            other: "1970-01-01T00:00:01.007Z"}),
               name="time.yaml")
    desc = cli_ok(["describe", "--path", storage, "--backup-id", "by-time", "--format", "json"]).json()
    starts = {(t["name"], p["partition"]): p["start_offset"] for t in desc["topics"] for p in t["partitions"]}
    assert starts == {(timed, 0): 6, (timed, 1): 6, (other, 0): 7}, starts
    restored = {timed: unique("start-timed-r"), other: unique("start-other-r")}
    run_restore(tmp_path, restore_config(storage, "by-time", topic_mapping=restored))
    for topic, cut in ((timed, 1012), (other, 1007)):
        expected = [r for r in dump(topic) if r["timestamp"] >= cut]
        got = dump(restored[topic], TARGET)
        assert len(got) == len(expected) and expected, (topic, len(got), len(expected))
        assert_same_records(expected, got, what=topic)

    # latest: nothing that exists now; the incremental after it holds only what came since.
    # (Storage of its own: in `storage`, "by-time" would be the chain's parent.)
    storage = tmp_path / "chain"
    first = run_backup(tmp_path, backup_config(storage, [timed], backup_id="chain-0", start_offset="latest",
                                               incremental=True), name="latest.yaml")
    assert first["records"] == 0, first
    new = [rec(i % 2, f"n{i}", f"new {i}", timestamp=5000 + i) for i in range(6)]
    produce(timed, new)
    second = run_backup(tmp_path, backup_config(storage, [timed], backup_id="chain-1", start_offset="latest",
                                                incremental=True), name="latest-1.yaml")
    assert second["records"] == 6 and second["parent_backup_id"] == "chain-0", second
    target = unique("start-latest-r")
    run_restore(tmp_path, restore_config(storage, "chain-1", topic_mapping={timed: target}))
    assert_same_records([r for r in dump(timed) if r["timestamp"] >= 5000], dump(target, TARGET), what=target)

    for bad, needle in (({"start_offset": "newest"}, "backup.start_offset"),
                        ({"start_offset_topics": {timed: "2026-13-01"}}, f"start_offset_topics.{timed}"),
                        ({"start_offset": ["latest"]}, "backup.start_offset")):
        r = run_cli(["backup", "--config", write_config(tmp_path, backup_config(storage, [timed], **bad), "bad.yaml")])
        assert_error(r, EXIT_BAD_INPUT, needle, "expected earliest, latest or a point in time", "bad.yaml")
