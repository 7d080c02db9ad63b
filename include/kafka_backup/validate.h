// Validation of a stored backup. Shallow: the manifest parses and every
// segment it names exists with the recorded size. Deep: additionally every
// block is read through the same reader restore uses (checksums, decoding,
// offsets in order and inside the recorded cut, counts and time ranges as
// recorded); a damaged block or segment is reported and the reading goes on,
// so one run finds every damage and which records it costs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "kafka_backup/run_options.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

// Records the backup holds but that cannot be read: exactly what a restore
// with restore.on_corruption: skip leaves out.
struct UnreadableRecords {
  uint64_t position = 0;     // byte in the object where the unreadable part starts
  int64_t first_offset = 0;  // the source offsets (inclusive) the records lie in
  int64_t last_offset = 0;
  uint64_t records = 0;  // how many the backup records there
};

struct ValidateIssue {
  std::string topic;
  int32_t partition = -1;
  std::string object;
  std::string message;
  std::optional<UnreadableRecords> unreadable;  // set when the issue costs records
};

// What was checked in one partition. Offsets and timestamps are those read
// (deep) or recorded in the manifest (shallow); unset when there are none.
struct ValidatePartition {
  std::string topic;
  int32_t partition = 0;
  uint64_t segments = 0;
  uint64_t records = 0;             // recorded in the manifest
  uint64_t records_checked = 0;     // read and checked (deep only)
  uint64_t records_unreadable = 0;  // the sum of its issues' unreadable records
  std::optional<int64_t> first_offset;
  std::optional<int64_t> last_offset;
  std::optional<int64_t> min_timestamp;
  std::optional<int64_t> max_timestamp;
  uint64_t issues = 0;
  bool ok() const { return issues == 0; }
};

struct ValidateReport {
  std::string backup_id;
  bool deep = false;
  int topics = 0;
  int partitions = 0;
  uint64_t segments = 0;
  uint64_t records_checked = 0;
  uint64_t bytes_read = 0;
  // In the manifest's order. Issues of a whole topic or of the manifest
  // (partition -1) are counted in none.
  std::vector<ValidatePartition> partition_results;
  std::vector<ValidateIssue> issues;
  bool ok() const { return issues.empty(); }
};

// Errors reaching the storage are returned as a Status; problems found in
// the backup are listed in the report (its ok() is then false). A deep
// validation of an encrypted backup needs its key (`encryption`, else
// KAFKA_BACKUP_ENCRYPTION_KEY): InvalidArgument without one, Auth with
// another; a block that fails its authentication tag is a problem reported
// like a checksum failure.
Result<ValidateReport> RunValidate(const std::string& storage_url, const std::string& backup_id, bool deep,
                                   const RunOptions& options = {}, const EncryptionConfig& encryption = {});

}  // namespace kafka_backup
