// The run status document (status/<backup_id>.json and the latest copy,
// docs/format/manifest.md, "Run status"): what a running backup has read and
// stored, for `kafka-backup status`; writing it renews the run lease.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "backup/backup_run.h"
#include "format/run_status.h"
#include "storage/layout.h"
#include "util/clock.h"
#include "util/version.h"

namespace kafka_backup::backup {

void BackupRun::WriteStatus(const std::string& state, const Status& error) {
  last_status_ = Clock::now();
  status_started_ = true;
  format::RunStatus& s = status_;
  s.backup_id = config_.backup_id;
  s.state = state;
  if (s.host.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    s.host = host;
  }
  s.pid = ::getpid();
  s.tool_version = kVersion;
  s.updated_at_ms = NowMs();
  s.finished_at_ms = state == "running" ? 0 : s.updated_at_ms;
  s.update_interval_secs = config_.backup.checkpoint_interval_secs;
  s.error = error.ok() ? "" : error.ToString();
  s.records = report_.records;
  s.bytes = report_.bytes;
  s.stored_bytes = report_.stored_bytes;
  s.segments = report_.segments;
  s.topics.clear();
  for (const auto& [_, p] : partitions_) {
    if (s.topics.empty() || s.topics.back().name != p.topic) s.topics.push_back({p.topic});
    format::TopicRunStatus& t = s.topics.back();
    t.partitions++;
    t.records += p.records;
    t.bytes += p.payload_bytes;
    t.lag += p.Lag();
  }
  if (state == "running" && lease_ && lease_error_.ok()) {
    Status renewed = lease_->Renew();
    if (renewed.code() == Status::Code::kConflict) {
      lease_error_ = renewed;
      return;  // the status is the other run's to write now
    }
    if (!renewed.ok()) spdlog::warn("backup {}: cannot renew the run lease: {}", config_.backup_id, renewed.ToString());
  }
  std::string doc = format::SerializeRunStatus(s);
  for (const auto& key : {storage::layout::RunStatusKey(config_.backup_id), storage::layout::LatestRunStatusKey()}) {
    Status put = store_->Put(key, doc);
    if (!put.ok()) spdlog::warn("cannot write the run status {}: {}", key, put.ToString());
  }
}

}  // namespace kafka_backup::backup
