"""restore.max_records_per_sec limits the rate; restore.topic_configs override recorded configs."""

from __future__ import annotations

from conftest import (TARGET, backup_config, create_topic, describe_topic, dump, produce, rec,
                      restore_config, run_backup, run_restore, unique)


def test_record_rate_limit_holds_and_topic_configs_override(tmp_path):
    topic = unique("throttle")
    create_topic(topic, 2, configs={"retention.ms": "86400000"})
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}") for i in range(3000)])
    store = tmp_path / "store"
    run_backup(tmp_path, backup_config(store, [topic], backup_id="b"))
    report = run_restore(tmp_path, restore_config(store, backup_id="b", max_records_per_sec=1000,
                                                  topic_configs={topic: {"retention.ms": "3600000"}}))
    assert report["records"] == 3000
    assert report["seconds"] >= 2.5, f"3000 records at 1000/s took only {report['seconds']:.2f}s"
    assert len(dump(topic, bootstrap=TARGET)) == 3000
    configs = describe_topic(topic, bootstrap=TARGET)
    assert "3600000" in str(configs), f"override not applied: {configs}"
