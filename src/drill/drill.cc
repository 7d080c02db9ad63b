#include "kafka_backup/drill.h"

#include <algorithm>
#include <functional>
#include <map>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "drill/after_restore.h"
#include "drill/evidence.h"
#include "drill/read_back.h"
#include "format/topic_partition.h"
#include "kafka/client.h"
#include "metrics/metrics.h"
#include "storage/layout.h"
#include "storage/object_store.h"
#include "util/clock.h"
#include "util/glob.h"
#include "util/version.h"

namespace kafka_backup {
namespace {

namespace layout = storage::layout;
using nlohmann::json;

// The read back gives up when no partition moved for this long.
constexpr int64_t kReadBackStallMs = 60000;
// The throughput chart keeps at most this many points (halved when full).
constexpr size_t kMaxSamples = 600;

// The scratch topics and groups of one drill, as its pending marker records
// them (drills/<backup>/<drill>.pending.json) until they are deleted.
struct Scratch {
  std::string drill_id;
  std::string backup_id;
  std::string cluster_id;
  std::vector<std::string> topics;
  std::vector<std::string> groups;
};

std::string ScratchJson(const Scratch& s) {
  return json{{"drill_id", s.drill_id},
              {"backup_id", s.backup_id},
              {"cluster_id", s.cluster_id},
              {"topics", s.topics},
              {"groups", s.groups}}
      .dump();
}

std::optional<Scratch> ParseScratch(const std::string& text) {
  try {
    json j = json::parse(text);
    return Scratch{j.at("drill_id").get<std::string>(), j.at("backup_id").get<std::string>(),
                   j.at("cluster_id").get<std::string>(), j.at("topics").get<std::vector<std::string>>(),
                   j.at("groups").get<std::vector<std::string>>()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Status DeleteScratch(kafka::Admin& admin, const Scratch& s) {
  for (const auto& g : s.groups) KB_RETURN_IF_ERROR(admin.DeleteGroup(g));
  for (const auto& t : s.topics) KB_RETURN_IF_ERROR(admin.DeleteTopic(t));
  return Status::Ok();
}

// What a drill killed before its clean-up left on this cluster: deleted, and
// its marker with it. Markers of other clusters are left for their drills.
Status CleanUpLeftovers(storage::ObjectStore& store, kafka::Admin& admin, const std::string& cluster_id,
                        DrillReport* report) {
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store, layout::kDrillPrefix));
  for (const auto& o : objects) {
    if (!o.key.ends_with(layout::kDrillPendingSuffix)) continue;
    KB_ASSIGN_OR_RETURN(std::string text, store.Get(o.key));
    std::optional<Scratch> s = ParseScratch(text);
    if (!s) {
      spdlog::warn("drill: {} is not a drill's marker; left in place", o.key);
      continue;
    }
    if (s->cluster_id != cluster_id) continue;
    spdlog::info("drill: deleting what drill {} left: topics {}, groups {}", s->drill_id, fmt::join(s->topics, ", "),
                 fmt::join(s->groups, ", "));
    KB_RETURN_IF_ERROR(DeleteScratch(admin, *s));
    for (const auto& t : s->topics) report->cleaned_up.push_back(t);
    for (const auto& g : s->groups) report->cleaned_up.push_back("group " + g);
    KB_RETURN_IF_ERROR(store.Delete(o.key));
  }
  return Status::Ok();
}

// drill.sample_partitions of a topic's partitions, chosen afresh by each
// drill (seeded by its id) so that drills over time cover them all; those
// holding records first. In partition order.
std::vector<const format::PartitionManifest*> Sample(const format::TopicManifest& t, int32_t n,
                                                     const std::string& drill_id) {
  std::vector<const format::PartitionManifest*> out;
  for (const auto& p : t.partitions) out.push_back(&p);
  if (n <= 0 || out.size() <= static_cast<size_t>(n)) return out;
  std::mt19937_64 random(std::hash<std::string>{}(drill_id + "/" + t.name));
  std::shuffle(out.begin(), out.end(), random);
  std::stable_partition(out.begin(), out.end(), [](const auto* p) { return p->record_count > 0; });
  out.resize(static_cast<size_t>(n));
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->partition < b->partition; });
  return out;
}

// Keeps the restore's progress as the throughput chart's points, and when
// each topic was done.
class Recorder {
 public:
  explicit Recorder(DrillReport* report) : report_(report) {}
  void operator()(const ProgressSnapshot& s) {
    auto& points = report_->throughput;
    if (points.size() >= kMaxSamples) {
      for (size_t i = 1; i < points.size() / 2; ++i) points[i] = points[2 * i];
      points.resize(points.size() / 2);
    }
    points.push_back({s.seconds, s.records, s.bytes});
    for (const auto& t : s.topics) {
      if (t.done_seconds) done_[t.name] = *t.done_seconds;
    }
  }
  std::optional<double> Done(const std::string& target_topic) const {
    auto it = done_.find(target_topic);
    return it == done_.end() ? std::nullopt : std::optional<double>(it->second);
  }

 private:
  DrillReport* report_;
  std::map<std::string, double> done_;
};

// A drill under way: the steps of RunDrill, in order.
class Drill {
 public:
  Drill(const Config& config, const RunOptions& options) : config_(config), options_(options) {}

  Result<DrillReport> Run();

 private:
  Status Prepare();
  Status SelectTopics();
  std::vector<const format::PartitionManifest*> SamplePartitions(const format::TopicManifest& t) const {
    return Sample(t, config_.drill.sample_partitions, report_.drill_id);
  }
  Status Validate();
  Status Restore();
  void AfterRestore();
  Status ReadBack();
  Status CheckGroups();
  Status CleanUp();
  void MeasureRpo();
  Status StoreEvidence();

  const Config& config_;
  const RunOptions& options_;
  DrillReport report_;
  std::unique_ptr<storage::ObjectStore> store_;
  std::unique_ptr<kafka::Admin> admin_;
  format::Manifest manifest_;
  std::vector<const format::TopicManifest*> topics_;
  // Per topic of topics_, the partitions drilled (all, or drill.sample_partitions).
  std::vector<std::vector<const format::PartitionManifest*>> drilled_;
  std::string signing_key_;  // PEM; empty: the report is stored unsigned
  Scratch scratch_;
  bool marker_stored_ = false;
};

Status Drill::Prepare() {
  if (!config_.mode.empty() && config_.mode != "drill" && config_.mode != "restore") {
    return Status::InvalidArgument(fmt::format("{} is a {} configuration; a drill takes mode: drill (or a restore's)",
                                               config_.source_file, config_.mode));
  }
  if (!config_.has_target) {
    return Status::InvalidArgument(
        "a drill restores into a target cluster: add a target section (bootstrap_servers, ...) to the config");
  }
  // Read first: a key that cannot sign stops the drill before it restores.
  KB_ASSIGN_OR_RETURN(signing_key_, drill::SigningKey(config_.drill));
  std::string url = config_.storage.Url();
  if (url.empty()) return Status::InvalidArgument("no storage location: add a storage section to the config");
  KB_ASSIGN_OR_RETURN(store_, storage::OpenStore(url));
  catalog::Catalog catalog(*store_);
  KB_ASSIGN_OR_RETURN(report_.backup_id, catalog.Resolve(config_.backup_id.empty() ? "latest" : config_.backup_id));
  KB_ASSIGN_OR_RETURN(manifest_, catalog.LoadManifest(report_.backup_id));
  report_.backup_state = manifest_.state;
  KB_ASSIGN_OR_RETURN(admin_, kafka::Admin::Connect(config_.target));
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin_->Describe());
  scratch_.cluster_id = cluster.cluster_id;
  report_.target_bootstrap = admin_->bootstrap();
  KB_RETURN_IF_ERROR(CleanUpLeftovers(*store_, *admin_, cluster.cluster_id, &report_));
  report_.topic_prefix = config_.drill.topic_prefix.empty() ? report_.drill_id + "-" : config_.drill.topic_prefix;
  return Status::Ok();
}

Status Drill::SelectTopics() {
  const std::vector<std::string>& patterns = config_.drill.topics;
  for (const auto& t : manifest_.topics) {
    if (patterns.empty() || MatchesAny(patterns, t.name)) topics_.push_back(&t);
  }
  if (topics_.empty()) {
    std::vector<std::string> names;
    for (const auto& t : manifest_.topics) names.push_back(t.name);
    return Status::InvalidArgument(fmt::format("drill.topics [{}] names no topic of backup {} (it holds: {})",
                                               fmt::join(patterns, ", "), report_.backup_id, fmt::join(names, ", ")));
  }
  for (const auto* t : topics_) drilled_.push_back(SamplePartitions(*t));
  // Described again: the clean-up in Prepare may have deleted a topic of this name.
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin_->Describe());
  for (const auto* t : topics_) {
    std::string scratch = report_.topic_prefix + t->name;
    if (cluster.Find(scratch)) {
      return Status::Conflict(
          fmt::format("scratch topic {} already exists on {}: a drill restores only into new topics (delete it, or set "
                      "drill.topic_prefix)",
                      scratch, report_.target_bootstrap));
    }
    scratch_.topics.push_back(scratch);
  }
  return Status::Ok();
}

Status Drill::Validate() {
  report_.validation = config_.drill.validate;
  if (config_.drill.validate == "none") {
    report_.not_checked.push_back("validation: drill.validate is none");
    return Status::Ok();
  }
  KB_ASSIGN_OR_RETURN(ValidateReport v, RunValidate(config_.storage.Url(), report_.backup_id,
                                                    config_.drill.validate == "deep", options_, config_.encryption));
  report_.validate = std::move(v);
  return Status::Ok();
}

Status Drill::Restore() {
  Config rc = config_;
  rc.mode = "restore";
  rc.backup_id = report_.backup_id;
  RestoreConfig& r = rc.restore;
  r.restore_id = report_.drill_id;
  r.topics.clear();
  r.topic_mapping.clear();
  r.source_partitions.clear();  // the drill's sample, if any, below
  for (size_t i = 0; i < topics_.size(); ++i) {
    const auto* t = topics_[i];
    r.topics.push_back(t->name);
    r.topic_mapping[t->name] = report_.topic_prefix + t->name;
    // Every record kept until it is read back: the broker would compact a
    // compacted topic's copy, and delete by time what an old backup holds.
    auto& configs = r.topic_configs[t->name];
    configs["cleanup.policy"] = "delete";
    configs["retention.ms"] = "-1";
    configs["retention.bytes"] = "-1";
    if (drilled_[i].size() < t->partitions.size()) {
      for (const auto* p : drilled_[i]) r.source_partitions[t->name].push_back(p->partition);
      report_.not_checked.push_back(fmt::format("sample: {} of the {} partitions of {} were drilled",
                                                drilled_[i].size(), t->partitions.size(), t->name));
    }
  }
  // The whole of each partition, to the same partition, as it was backed up.
  r.time_window_start.reset();
  r.time_window_end.reset();
  r.partition_mapping.clear();
  r.repartitioning.clear();
  r.include_offset_headers = false;
  r.on_existing_data = "fail";
  r.on_corruption = "fail";
  r.create_topics = true;
  r.dry_run = false;
  r.group_mapping.clear();
  if (r.consumer_group_strategy != "skip") {
    r.reset_consumer_offsets = true;
    for (const auto& g : manifest_.consumer_groups) {
      if (!r.consumer_groups.empty() && !MatchesAny(r.consumer_groups, g.group_id)) continue;
      r.group_mapping[g.group_id] = report_.topic_prefix + g.group_id;
      scratch_.groups.push_back(report_.topic_prefix + g.group_id);
    }
  }
  // Stored before anything is created: a drill killed from here on leaves
  // a marker the next drill finds.
  scratch_.drill_id = report_.drill_id;
  scratch_.backup_id = report_.backup_id;
  KB_RETURN_IF_ERROR(store_->Put(layout::DrillPendingKey(report_.backup_id, report_.drill_id), ScratchJson(scratch_)));
  marker_stored_ = true;
  RunOptions options = options_;
  auto recorder = std::make_shared<Recorder>(&report_);
  options.on_progress = [recorder, shown = options_.on_progress](const ProgressSnapshot& s) {
    (*recorder)(s);
    if (shown) shown(s);  // the caller's display too
  };
  KB_ASSIGN_OR_RETURN(RestoreReport restored, RunRestore(rc, options));
  report_.restore_seconds = restored.seconds;
  report_.records = restored.records;
  report_.bytes = restored.bytes;
  for (const auto& t : restored.topics) {
    DrillTopic& out = report_.topics.emplace_back();
    out.name = t.source_name;
    out.scratch_topic = t.name;
    out.records = t.records;
    out.bytes = t.bytes;
    out.restore_seconds = recorder->Done(t.name);
    for (size_t i = 0; i < topics_.size(); ++i) {
      if (topics_[i]->name != t.source_name) continue;
      out.partitions = static_cast<int32_t>(topics_[i]->partitions.size());
      out.drilled_partitions = static_cast<int32_t>(drilled_[i].size());
    }
  }
  for (const auto& g : restored.group_positions) {
    report_.groups.push_back({g.group_id, g.topic, g.partition, g.offset, std::nullopt, false});
  }
  return Status::Ok();
}

void Drill::AfterRestore() {
  if (config_.drill.after_restore.empty()) return;
  std::vector<std::string> bootstrap = config_.target.bootstrap_servers;
  report_.after_restore =
      drill::RunAfterRestore(config_.drill.after_restore,
                             {{"KAFKA_BACKUP_DRILL_ID", report_.drill_id},
                              {"KAFKA_BACKUP_DRILL_BACKUP_ID", report_.backup_id},
                              {"KAFKA_BACKUP_DRILL_TOPIC_PREFIX", report_.topic_prefix},
                              {"KAFKA_BACKUP_DRILL_TOPICS", fmt::format("{}", fmt::join(scratch_.topics, ","))},
                              {"KAFKA_BACKUP_DRILL_GROUPS", fmt::format("{}", fmt::join(scratch_.groups, ","))},
                              {"KAFKA_BACKUP_DRILL_BOOTSTRAP_SERVERS", fmt::format("{}", fmt::join(bootstrap, ","))}},
                             config_.drill.after_restore_timeout_secs);
}

Status Drill::ReadBack() {
  KB_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Connect(config_.target));
  std::vector<kafka::Consumer::Start> starts;
  std::map<format::TopicPartition, std::unique_ptr<drill::PartitionCheck>> checks;
  auto loaded = catalog::LoadOffsetMap(*store_, report_.backup_id, report_.drill_id);
  if (!loaded.ok() && loaded.status().code() != Status::Code::kNotFound) return loaded.status();
  format::OffsetMap map = loaded.ok() ? std::move(*loaded) : format::OffsetMap{};
  size_t total = 0;
  for (const auto& d : drilled_) total += d.size();
  report_.partitions.reserve(total);  // the checks point into it
  for (size_t i = 0; i < topics_.size(); ++i) {
    const auto* t = topics_[i];
    std::string scratch = report_.topic_prefix + t->name;
    const format::TopicOffsetMap* mapped = nullptr;
    for (const auto& m : map.topics) mapped = m.source_topic == t->name ? &m : mapped;
    // From where each log starts: records deleted from its head show as
    // offsets that disagree with the offset map.
    KB_ASSIGN_OR_RETURN(std::vector<int64_t> low,
                        admin_->LowWatermarks(scratch, static_cast<int32_t>(t->partitions.size())));
    for (const auto* p : drilled_[i]) {
      DrillPartition& out = report_.partitions.emplace_back();
      out.topic = t->name;
      out.scratch_topic = scratch;
      out.partition = p->partition;
      auto check = std::make_unique<drill::PartitionCheck>(*t, *p, &out);
      const format::PartitionOffsetMap* runs = nullptr;
      if (mapped) {
        for (const auto& m : mapped->partitions) runs = m.source_partition == p->partition ? &m : runs;
      }
      check->ExpectOffsets(runs);
      checks[{scratch, p->partition}] = std::move(check);
      starts.push_back({scratch, p->partition, low.at(static_cast<size_t>(p->partition))});
    }
  }
  KB_RETURN_IF_ERROR(consumer->Assign(starts));
  size_t open = checks.size();
  int64_t last_progress = NowMs();
  while (open > 0) {
    KB_ASSIGN_OR_RETURN(kafka::ConsumedItem item, consumer->Poll(500));
    auto it = checks.find({item.topic, item.partition});
    if (item.kind == kafka::ConsumedItem::Kind::kRecord && it != checks.end()) {
      it->second->Add(item.record);
      last_progress = NowMs();
    } else if (item.kind == kafka::ConsumedItem::Kind::kPartitionEnd && it != checks.end()) {
      it->second->Finish();
      checks.erase(it);
      KB_RETURN_IF_ERROR(consumer->Unassign(item.topic, item.partition));
      --open;
      last_progress = NowMs();
    } else if (NowMs() - last_progress > kReadBackStallMs) {
      return Status::Unavailable(fmt::format("reading the scratch topics back from {} made no progress for {} s",
                                             report_.target_bootstrap, kReadBackStallMs / 1000));
    }
  }
  size_t without = 0;
  for (const auto& p : report_.partitions) without += p.digest == "unavailable" ? 1 : 0;
  if (without > 0) {
    report_.not_checked.push_back(fmt::format(
        "digest: {} of {} partitions have segments written before content digests existed; their counts were "
        "checked, not their content",
        without, report_.partitions.size()));
  }
  return Status::Ok();
}

Status Drill::CheckGroups() {
  std::map<std::string, std::vector<kafka::TopicPartitionOffset>> committed;
  for (auto& g : report_.groups) {
    auto it = committed.find(g.group_id);
    if (it == committed.end()) {
      KB_ASSIGN_OR_RETURN(auto offsets, admin_->GroupOffsets(g.group_id, false));
      it = committed.emplace(g.group_id, std::move(offsets)).first;
    }
    for (const auto& o : it->second) {
      if (o.topic == g.topic && o.partition == g.partition) g.committed = o.offset;
    }
    g.ok = g.committed == g.expected;
  }
  return Status::Ok();
}

Status Drill::CleanUp() {
  if (config_.drill.keep) {
    report_.kept = true;
  } else {
    KB_RETURN_IF_ERROR(DeleteScratch(*admin_, scratch_));
  }
  if (marker_stored_) {
    KB_RETURN_IF_ERROR(store_->Delete(layout::DrillPendingKey(report_.backup_id, report_.drill_id)));
  }
  return Status::Ok();
}

void Drill::MeasureRpo() {
  for (const auto* t : topics_) {
    for (const auto& p : t->partitions) {
      if (p.max_timestamp && (!report_.newest_record_ms || *p.max_timestamp > *report_.newest_record_ms)) {
        report_.newest_record_ms = p.max_timestamp;
      }
    }
  }
  int64_t now = NowMs();
  if (report_.newest_record_ms) report_.rpo_seconds = static_cast<double>(now - *report_.newest_record_ms) / 1000.0;
  if (manifest_.state == "continuous") {
    report_.checkpoint_age_seconds = static_cast<double>(now - manifest_.completed_at_ms) / 1000.0;
  }
}

// The page first, the JSON (the evidence, naming the page) last.
Status Drill::StoreEvidence() {
  report_.evidence_key = layout::DrillReportKey(report_.backup_id, report_.drill_id);
  report_.html_key = layout::DrillHtmlKey(report_.backup_id, report_.drill_id);
  std::string json = DrillReportJson(report_);
  if (!signing_key_.empty()) {
    KB_ASSIGN_OR_RETURN(json, drill::SignReport(json, signing_key_, &report_.signing_key_id));
  }
  KB_RETURN_IF_ERROR(store_->Put(report_.html_key, DrillReportHtml(report_)));
  KB_RETURN_IF_ERROR(store_->Put(report_.evidence_key, json));
  report_.stored_json = std::move(json);
  return Status::Ok();
}

Result<DrillReport> Drill::Run() {
  report_.started_at_ms = NowMs();
  report_.drill_id = "drill-" + ProcessTimestamp();
  report_.tool_version = kVersion;
  KB_RETURN_IF_ERROR(Prepare());
  KB_RETURN_IF_ERROR(SelectTopics());
  MeasureRpo();
  KB_RETURN_IF_ERROR(Validate());
  if (!report_.validate || report_.validate->ok()) {
    Status run = Restore();
    if (run.code() == Status::Code::kCorruption) {
      // The restore found what validation did not (a segment whose index
      // disagrees with the manifest): a failed drill, with its evidence.
      report_.restore_error = run.message();
      report_.not_checked.push_back("read back: the restore stopped on data it could not read");
      run = Status::Ok();
    } else if (run.ok()) {
      AfterRestore();
      run = ReadBack();
    }
    if (run.ok() && report_.restore_error.empty()) run = CheckGroups();
    // The scratch topics go even when a step failed.
    Status cleaned = marker_stored_ ? CleanUp() : Status::Ok();
    KB_RETURN_IF_ERROR(run);
    KB_RETURN_IF_ERROR(cleaned);
  } else {
    report_.not_checked.push_back("restore: the validation found problems, so nothing was restored");
  }
  report_.finished_at_ms = NowMs();
  KB_RETURN_IF_ERROR(StoreEvidence());
  metrics::Metrics::Get().DrillResult(report_.ok(), report_.finished_at_ms, report_.restore_seconds,
                                      report_.rpo_seconds);
  return std::move(report_);
}

}  // namespace

bool DrillReport::ok() const {
  return Failures().empty();
}

std::vector<std::string> DrillReport::Failures() const {
  std::vector<std::string> out;
  if (validate) {
    for (const auto& i : validate->issues) {
      out.push_back(fmt::format("{}[{}] {}: {}", i.topic, i.partition, i.object, i.message));
    }
  }
  if (!restore_error.empty()) out.push_back("restore: " + restore_error);
  if (after_restore && !after_restore->ok()) out.push_back(after_restore->problem);
  for (const auto& p : partitions) {
    if (!p.ok) out.push_back(fmt::format("{}[{}]: {}", p.topic, p.partition, p.problem));
  }
  for (const auto& g : groups) {
    if (!g.ok) {
      out.push_back(fmt::format("group {} {}[{}]: the restore computed {}, the target holds {}", g.group_id, g.topic,
                                g.partition, g.expected,
                                g.committed ? fmt::to_string(*g.committed) : std::string("no commit")));
    }
  }
  return out;
}

Result<DrillReport> RunDrill(const Config& config, const RunOptions& options) {
  Drill drill(config, options);
  return drill.Run();
}

}  // namespace kafka_backup
