// Validation of a stored backup. Shallow: the manifest parses and every
// segment it names exists with the recorded size. Deep: additionally every
// block is read through the same reader restore uses (checksums, decoding,
// offsets in order and inside the recorded cut, counts and time ranges as
// recorded).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_backup/run_options.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

struct ValidateIssue {
  std::string topic;
  int32_t partition = -1;
  std::string object;
  std::string message;
};

struct ValidateReport {
  std::string backup_id;
  bool deep = false;
  int topics = 0;
  int partitions = 0;
  uint64_t segments = 0;
  uint64_t records_checked = 0;
  uint64_t bytes_read = 0;
  std::vector<ValidateIssue> issues;
  bool ok() const { return issues.empty(); }
};

// Errors reaching the storage are returned as a Status; problems found in
// the backup are listed in the report (its ok() is then false).
Result<ValidateReport> RunValidate(const std::string& storage_url, const std::string& backup_id, bool deep,
                                   const RunOptions& options = {});

}  // namespace kafka_backup
