// Writes seed inputs for the fuzz targets, made by the library's own writers:
// segments of every codec (one block, several blocks, none), single blocks,
// and a manifest, offset map and run status document. scripts/fuzz.sh runs it
// before fuzzing; the checked-in seeds (testdata/, tests/fuzz/corpus/) cover
// the rest.
//
// Usage: make_seeds OUT_DIR   (writes OUT_DIR/segment/*, OUT_DIR/manifest/*)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/run_status.h"
#include "format/segment.h"

namespace kafka_backup::format {
namespace {

namespace fs = std::filesystem;

bool Write(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  return static_cast<bool>(out);
}

std::vector<Record> SampleRecords() {
  std::vector<Record> rs(4);
  rs[0].offset = 10;
  rs[0].timestamp = 1700000000000;
  rs[0].key = "k";
  rs[0].value = "value";
  rs[0].headers = {{"h", std::string("1")}, {"h", std::nullopt}};
  rs[1].offset = 12;  // a compaction gap
  rs[1].timestamp = 1699999999000;
  rs[1].value = std::string("");
  rs[2].offset = 13;  // a tombstone
  rs[2].timestamp = 1700000005000;
  rs[2].timestamp_type = TimestampType::kLogAppendTime;
  rs[2].key = "gone";
  rs[3].offset = 20;
  rs[3].timestamp = -1;
  rs[3].timestamp_type = TimestampType::kNotAvailable;
  rs[3].key = std::string(40, 'x');
  rs[3].value = std::string(200, 'y');
  return rs;
}

std::string MakeSegment(Codec codec, size_t block_target, size_t records) {
  SegmentWriter w("orders", 3, codec, 3, block_target);
  auto sample = SampleRecords();
  for (size_t i = 0; i < records && i < sample.size(); ++i) {
    if (!w.Append(sample[i]).ok()) std::abort();
  }
  auto bytes = w.Finish();
  if (!bytes.ok()) std::abort();
  return *bytes;
}

std::string MakeBlock(Codec codec) {
  BlockBuilder builder;
  for (const auto& r : SampleRecords()) builder.Append(r);
  SegmentEncoder encoder("orders", 3, codec, 3);
  auto block = encoder.EncodeBlock(builder.Take());
  if (!block.ok()) std::abort();
  return *block;
}

Manifest MakeManifest() {
  Manifest m;
  m.backup_id = "hourly-20261125T100000Z";
  m.tool_version = "0.1.0";
  m.created_at_ms = 1764064800000;
  m.completed_at_ms = 1764064801000;
  m.source_cluster_id = "prod";
  m.kafka_cluster_id = "MkU3OEVBNTcwNTJENDM2Qk";
  m.compression = "lz4";
  m.include_offset_headers = true;
  TopicManifest t;
  t.name = "orders";
  t.partition_count = 2;
  t.replication_factor = 3;
  t.configs = {{"cleanup.policy", "compact"}};
  PartitionManifest p;
  p.partition = 1;
  p.start_offset = 10;
  p.end_offset = 21;
  p.record_count = 4;
  p.bytes = 250;
  p.min_timestamp = -1;
  p.max_timestamp = 1700000005000;
  p.segments.push_back(
      {"data/hourly-20261125T100000Z/orders/1/00000000000000000010.kbseg", 400, 10, 20, 4, -1, 1700000005000});
  t.partitions.push_back(p);
  t.partitions.push_back(PartitionManifest{});
  m.topics.push_back(t);
  m.consumer_groups.push_back({"billing", {{"orders", 1, 13}}});
  return m;
}

OffsetMap MakeOffsetMap() {
  OffsetMap m;
  m.restore_id = "restore-20261125T110000Z";
  m.backup_id = "hourly-20261125T100000Z";
  m.target_cluster_id = "dr";
  m.created_at_ms = 1764068400000;
  m.topics.push_back({"orders", "orders-restored", {{1, {{10, 0, 0, 1}, {12, 0, 1, 2}, {20, 1, 7, 1}}}}});
  return m;
}

RunStatus MakeRunStatus() {
  RunStatus s;
  s.backup_id = "hourly-20261125T100000Z";
  s.state = "running";
  s.host = "pod-1";
  s.pid = 42;
  s.tool_version = "0.1.0";
  s.started_at_ms = 1;
  s.updated_at_ms = 2;
  s.update_interval_secs = 30;
  s.records = 10;
  s.topics = {{"orders", 3, 10, 11, 5}};
  return s;
}

int MakeSeeds(const fs::path& out) {
  fs::create_directories(out / "segment");
  fs::create_directories(out / "manifest");
  bool ok = true;
  for (Codec codec : {Codec::kNone, Codec::kZstd, Codec::kLz4}) {
    std::string name = CodecName(codec);
    ok &= Write(out / "segment" / (name + "-one-block.kbseg"), MakeSegment(codec, 1 << 20, 4));
    ok &= Write(out / "segment" / (name + "-blocks.kbseg"), MakeSegment(codec, 64, 4));
    ok &= Write(out / "segment" / (name + ".block"), MakeBlock(codec));
  }
  ok &= Write(out / "segment" / "empty.kbseg", MakeSegment(Codec::kNone, 64, 0));
  ok &= Write(out / "manifest" / "manifest.json", SerializeManifest(MakeManifest()));
  ok &= Write(out / "manifest" / "offset-map.json", SerializeOffsetMap(MakeOffsetMap()));
  ok &= Write(out / "manifest" / "run-status.json", SerializeRunStatus(MakeRunStatus()));
  if (!ok) {
    std::fprintf(stderr, "make_seeds: cannot write to %s\n", out.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace kafka_backup::format

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  return kafka_backup::format::MakeSeeds(argv[1]);
}
