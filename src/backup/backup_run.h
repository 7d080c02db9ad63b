// One backup run (RunBackup, include/kafka_backup/backup.h): its state, and
// its steps, defined by idea in the files of this folder:
//   backup.cc            the run from end to end: lease, start or resume,
//                        drain, commit (the manifest, last)
//   start.cc             where each partition starts: a fresh run's cut,
//                        start offsets and parent; a resumed run's journal
//   drain.cc             the reading loop: records into blocks and segments,
//                        the memory budget, the display and lag
//   checkpoint_writer.cc what becomes durable, and the checkpoint journal
//   topic_watch.cc       topic ids (deleted, recreated), new topics and
//                        partitions, the groups' offsets read again
//   run_status.cc        the run status document and the lease renewal
// Not thread-safe: the reading thread runs it; the pipeline's workers call
// back only through its wait tick, on that thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/lease.h"
#include "backup/partition_state.h"
#include "backup/segment_pipeline.h"
#include "format/checkpoint.h"
#include "format/codec.h"
#include "format/encryption.h"
#include "format/manifest.h"
#include "format/run_status.h"
#include "format/segment.h"
#include "kafka/client.h"
#include "kafka_backup/backup.h"
#include "kafka_backup/config.h"
#include "storage/object_store.h"
#include "util/progress.h"

namespace kafka_backup::backup {

using Clock = std::chrono::steady_clock;

class BackupRun {
 public:
  BackupRun(const Config& config, const RunOptions& options) : config_(config), options_(options) {}

  Result<BackupReport> Run();

  // After a failed Run: records the failure, if this run wrote a status.
  void RecordFailure(const Status& error) {
    if (status_started_) WriteStatus("failed", error);
  }

 private:
  // The state of one Drain: the display, the gauges and the stall watch
  // (drain.cc).
  struct DrainLoop;

  // backup.cc: the steps of Run.
  Status CheckRunnable() const;
  Status StartNew();
  void StartPipeline();
  Status CommitManifest(const std::string& manifest_key);
  // The run lease's ttl: the run status's liveness rule (two status
  // intervals and a minute), so `status` and the lease agree on who is alive.
  int64_t LeaseTtlSecs() const { return format::LivenessWindowSecs(config_.backup.checkpoint_interval_secs); }

  // start.cc: a fresh run: the cut, the topics and the groups (an
  // incremental run inherits what `parent_` holds); a resumed run: the journal.
  Status StartFresh(const std::vector<kafka::TopicInfo>& topics, const kafka::ClusterInfo& cluster);
  // The backup's own fields of the manifest (id, versions, cluster, codec).
  void DescribeBackup(const kafka::ClusterInfo& cluster);
  // Adds a topic and starts its partitions at the cut; `ids`: topic ids by name.
  Status StartTopic(const kafka::TopicInfo& t, const std::map<std::string, std::string>& ids);
  // What `parent_` holds of topic `t` (null: nothing), unless the topic is
  // not the one the parent saw (recorded as an event on `tm`).
  const format::TopicManifest* InheritedTopic(const kafka::TopicInfo& t, const std::vector<kafka::Watermarks>& marks,
                                              format::TopicManifest& tm);
  // Starts partition `p` of `t` at `first`, with the cut at `w.high`;
  // `hwm`: the topic's high watermarks (one-shot runs).
  void StartPartition(const kafka::TopicInfo& t, int32_t p, const kafka::Watermarks& w, const std::vector<int64_t>& hwm,
                      int64_t first, const format::TopicManifest* inherited);
  // backup.incremental: the newest committed backup of the same source in
  // this storage, if any (docs/format/manifest.md, "Incremental backups").
  Status FindParent(const kafka::ClusterInfo& cluster);
  // Where a backup that starts a chain begins each partition of a topic
  // (backup.start_offset), within [low, high] of `marks`.
  Result<std::vector<int64_t>> StartOffsets(const kafka::TopicInfo& t, const std::vector<kafka::Watermarks>& marks);
  Status Resume(const format::Journal& journal);
  Status RemoveOrphans(const std::set<std::string>& keep);

  // drain.cc: reads every partition up to its cut (continuous: until stopped)
  // and stores what it read. Consume and Append are the per-record path:
  // always inlined into Drain's loop (defined in drain.cc, called only there).
  Status Drain();
  // One polled item of a partition still read: a record, the end of what
  // the broker has, or offsets it no longer has. `*abandoned`: the item's
  // topic was deleted (its partitions are read no further).
  [[gnu::always_inline]] inline Status Consume(const kafka::ConsumedItem& item, DrainLoop& loop, bool* abandoned);
  // Once per batch of records, or when idle: the display, a checkpoint and
  // the status when due, the gauges and lag, and the stall watch.
  Status BetweenBatches(DrainLoop& loop);
  // The error when nothing arrived for the stall limit.
  Status Stalled(const DrainLoop& loop) const;
  // Every record read (or a stop asked for): stores the last segments.
  Status FinishDrain(DrainLoop& loop);
  [[gnu::always_inline]] inline Status Append(PartitionState& p, const format::RecordView& r);
  Status FlushBlock(PartitionState& p);
  Status SealSegment(PartitionState& p);
  Status EnforceMemoryBudget();
  void PublishLag();
  // Each topic's line of the progress display: offsets read of those to read.
  void ShowTopics(Progress& progress, const std::map<std::string, size_t>& lines) const;
  bool StopRequested() const { return options_.stop && options_.stop->load(); }

  // checkpoint_writer.cc: stores what the open segments hold (continuous
  // runs and an interrupted run) and waits until it is stored.
  Status StoreEverything(const std::function<void()>& tick);
  // Writes a checkpoint entry with what became durable since the last one (a
  // base entry, with everything, every kBaseEvery entries or when `base`).
  Status Checkpoint(bool base);
  // At most every checkpoint_interval_secs: a checkpoint (a continuous run
  // stores its open segments first) and the run status.
  Status CheckpointIfDue(const std::function<void()>& tick);
  // The same while the reading thread waits for the pipeline: a checkpoint
  // of what is stored, nothing new stored (that is what is being waited
  // for); a failure is returned by the next Drain step.
  void CheckpointWhileWaiting();
  // Removes the journal of a committed backup; a failure only leaves garbage.
  void DropJournal();
  // The backup as far as it is durable.
  format::Manifest BuildManifest() const;
  // Waits for the pipeline and puts the stored segments into the manifests.
  Status CollectSegments();
  // Puts the segments stored so far into the manifests (without waiting).
  void AbsorbSealed();

  // topic_watch.cc: continuous runs: topics and partitions that appeared
  // since the start.
  Status DiscoverTopics();
  // Continuous runs: the consumer groups' committed offsets read again; the
  // next checkpoint records them if they moved.
  void RefreshGroups();
  // Topic ids now, by name (a topic that does not exist is left out);
  // nullopt (and a warning) when the broker cannot say.
  std::optional<std::map<std::string, std::string>> CurrentTopicIds(const std::vector<std::string>& names);
  // Topics followed whose id changed or that no longer exist: recorded as an
  // event, and their partitions are read no further (docs/format/manifest.md,
  // "Topics deleted or created again during a run").
  Status CheckTopicIds();
  // Records `event` on the topic and stops reading its partitions.
  Status AbandonTopic(format::TopicManifest& topic, const std::string& event, const std::string& new_id);

  // run_status.cc: writes the run status document (status/<backup_id>.json
  // and the latest copy); a failure to write it is logged, never fatal: it
  // is informational.
  void WriteStatus(const std::string& state, const Status& error = Status::Ok());

  const Config& config_;
  const RunOptions& options_;
  std::unique_ptr<storage::ObjectStore> store_;
  std::unique_ptr<backup::Lease> lease_;       // after store_: released before it goes
  Status lease_error_;                         // a Renew that found this run fenced
  std::function<void()> display_tick_;         // redraws the progress display; set while Drain runs
  std::unique_ptr<SegmentPipeline> pipeline_;  // after store_: stops before it goes
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Admin> admin_;
  PartitionMap partitions_;
  format::Manifest meta_;                    // the backup's fields and topics; partitions come from partitions_
  std::optional<format::Manifest> parent_;   // an incremental run's parent
  std::vector<std::string> missing_topics_;  // source.topics.on_missing: warn
  bool continuous_ = false;
  uint64_t next_sequence_ = 0;   // of the next checkpoint entry
  bool force_base_ = true;       // the next entry must be a base (a topic appeared, or none written yet)
  bool groups_changed_ = false;  // meta_.consumer_groups moved since the last entry
  Clock::time_point last_checkpoint_{};
  Clock::time_point last_status_{};
  bool waiting_checkpoint_ = false;  // CheckpointWhileWaiting is running
  Status waiting_error_;
  Clock::time_point last_discovery_{};
  format::Codec codec_ = format::Codec::kZstd;
  // encryption.key_file/key_env: the key the segments are encrypted with.
  std::optional<format::EncryptionKey> key_;
  uint64_t raw_bytes_ = 0;  // in the partitions' open blocks
  BackupReport report_;
  format::RunStatus status_;
  bool status_started_ = false;
};

}  // namespace kafka_backup::backup
