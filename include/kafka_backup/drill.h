// Restore drills (docs/drills.md): a backup validated, restored into scratch
// topics, read back and checked against its manifest record by record (counts
// and content digests, docs/format/digest.md), with the restore's time (RTO)
// and the backup's age (RPO) measured; then the scratch topics are deleted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "kafka_backup/restore.h"
#include "kafka_backup/run_options.h"
#include "kafka_backup/status.h"
#include "kafka_backup/validate.h"

namespace kafka_backup {

// One partition restored and read back.
struct DrillPartition {
  std::string topic;          // in the backup
  std::string scratch_topic;  // where it was restored
  int32_t partition = 0;
  uint64_t expected_records = 0;  // the manifest's
  uint64_t records = 0;           // read back
  // The offsets the restored records have on the target (unset: none).
  std::optional<int64_t> first_offset;
  std::optional<int64_t> last_offset;
  // Where the restore's offset map says it wrote them (unset: nothing).
  std::optional<int64_t> expected_first_offset;
  std::optional<int64_t> expected_last_offset;
  // "match", "differs" or "unavailable" (a segment of the backup has no
  // digest: it was written before digests existed).
  std::string digest;
  // The first segment whose records differ, when the digest differs.
  std::string first_difference;
  bool ok = false;
  std::string problem;  // what failed, when !ok
};

// A consumer group position the restore computed, against what the target
// holds after the restore committed it.
struct DrillGroupCheck {
  std::string group_id;  // on the target (the scratch prefix applied)
  std::string topic;     // scratch topic
  int32_t partition = 0;
  int64_t expected = 0;
  std::optional<int64_t> committed;  // unset: nothing committed
  bool ok = false;
};

struct DrillTopic {
  std::string name;
  std::string scratch_topic;
  int32_t partitions = 0;          // the topic's, in the backup
  int32_t drilled_partitions = 0;  // restored and read back (drill.sample_partitions)
  uint64_t records = 0;
  uint64_t bytes = 0;
  // When the restore had written all of it, from the start of its data phase.
  std::optional<double> restore_seconds;
};

// The restore's progress, one point per 200 ms or so.
struct DrillSample {
  double seconds = 0;  // from the start of the data phase
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// drill.after_restore: the command run between the restore and the read back.
struct DrillHook {
  std::vector<std::string> command;
  int exit_code = 0;  // -1: it did not finish (killed after drill.after_restore_timeout, or by a signal)
  double seconds = 0;
  std::string problem;  // why it failed, when it did
  bool ok() const { return problem.empty(); }
};

struct DrillReport {
  std::string drill_id;
  std::string backup_id;
  std::string backup_state;  // "" (committed), "continuous" or "partial"
  std::string tool_version;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  std::string target_bootstrap;
  std::string topic_prefix;
  bool kept = false;  // drill.keep: the scratch topics were left
  // Scratch topics and groups a killed drill left, deleted before this one.
  std::vector<std::string> cleaned_up;

  std::string validation;  // "deep", "shallow" or "none"
  std::optional<ValidateReport> validate;

  // A restore that stopped on data it could not read (Corruption): what it
  // said; the drill then fails. Empty when the restore ran to its end.
  std::string restore_error;
  // RTO: the restore's wall time and rates.
  double restore_seconds = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::vector<DrillTopic> topics;
  std::vector<DrillSample> throughput;
  // RPO: now minus the newest record's timestamp in the backup (unset when it
  // holds none), and for a continuous backup the age of its last checkpoint.
  std::optional<double> rpo_seconds;
  std::optional<int64_t> newest_record_ms;
  std::optional<double> checkpoint_age_seconds;

  std::optional<DrillHook> after_restore;
  std::vector<DrillPartition> partitions;
  std::vector<DrillGroupCheck> groups;
  std::string evidence_key;  // where the report was stored beside the backup
  std::string html_key;      // and its page (docs/drills.md)
  // The key that signed the stored report ("sha256:<hex>" of its public
  // key); empty: unsigned (no drill.signing_key_file).
  std::string signing_key_id;
  // The bytes stored as evidence (and printed by --format json): the JSON
  // document, signed when a key was set (docs/drills.md "Signed evidence").
  std::string stored_json;
  // Checks not made, and why ("digest: 2 partitions have segments without one").
  std::vector<std::string> not_checked;

  bool ok() const;
  // "orders[3]: ..." for each failed check.
  std::vector<std::string> Failures() const;
};

// Runs the drill `config` describes (mode: drill; storage, target, drill and
// restore sections). Status errors are for a drill that could not run
// (storage or target unreachable, bad config, scratch topics already there);
// a drill that ran but found a problem returns its report with ok() false.
Result<DrillReport> RunDrill(const Config& config, const RunOptions& options = {});

// A stored drill report, summed up (kafka-backup drills, describe).
struct DrillSummary {
  std::string drill_id;
  std::string backup_id;
  std::string evidence_key;
  bool ok = false;
  int64_t finished_at_ms = 0;
  double restore_seconds = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::optional<double> rpo_seconds;
  size_t failures = 0;
};

// Every drill report stored under `storage_url` (only `backup_id`'s, unless
// empty), oldest first. A report that does not parse is skipped with a
// warning naming it.
Result<std::vector<DrillSummary>> ListDrills(const std::string& storage_url, const std::string& backup_id = "");

// The restore time to expect for `bytes` of payload at the median rate the
// passed drills among `drills` measured; nullopt when none measured one.
std::optional<double> EstimateRestoreSeconds(const std::vector<DrillSummary>& drills, uint64_t bytes);

// The report as stored in the evidence object and printed by --format json
// (docs/schemas/drill.schema.json), unsigned.
std::string DrillReportJson(const DrillReport& report);
// The page a person reads: one self-contained HTML file, no network.
std::string DrillReportHtml(const DrillReport& report);

// `kafka-backup drill verify`: whether `report_json` (a stored or printed
// report) is signed and unchanged since. With `public_key_pem` (a PEM
// Ed25519 key, public or private) the signer must hold it; without, the
// key the report names is taken at its word and `pinned` says so.
struct DrillVerification {
  bool ok = false;
  bool pinned = false;  // checked against a key given, not only the report's own
  std::string drill_id;
  std::string backup_id;
  std::string key_id;
  std::string problem;  // why it does not verify
};
DrillVerification VerifyDrillReport(const std::string& report_json, const std::string& public_key_pem);

}  // namespace kafka_backup
