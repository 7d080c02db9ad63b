// Streams N bytes of pseudo-random data into one object through
// storage::OpenWriter, as a backup streams a segment, then checks the stored
// size and prints one JSON line with the process's peak RSS. Used by
// tests/integration/test_storage.py to show that a multi-gigabyte object is
// uploaded in bounded memory.
//
//   stream_upload URL KEY BYTES [--delete]   (--delete: remove the object afterwards)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "storage/object_store.h"

// This process's own peak RSS: VmHWM of /proc/self/status. (getrusage's
// ru_maxrss also counts the parent's RSS at fork time, which Linux carries
// across execve: a child of a big pytest process would inherit its figure.)
long PeakRssKib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

int main(int argc, char** argv) {
  using namespace kafka_backup;
  if (argc != 4 && !(argc == 5 && std::string(argv[4]) == "--delete")) {
    std::fprintf(stderr, "usage: stream_upload URL KEY BYTES [--delete]\n");
    return 2;
  }
  const std::string url = argv[1], key = argv[2];
  const uint64_t total = std::strtoull(argv[3], nullptr, 10);
  auto store = storage::OpenStore(url);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  auto writer = storage::OpenWriter(**store, key);
  // 1 MiB + 13 bytes per write: blocks never line up with upload parts.
  std::string chunk((1u << 20) + 13, '\0');
  std::mt19937_64 rng(42);
  uint64_t written = 0, peak_buffered = 0;
  while (written < total) {
    for (size_t i = 0; i + 8 <= chunk.size(); i += 8) {
      uint64_t v = rng();
      __builtin_memcpy(chunk.data() + i, &v, 8);
    }
    std::string_view part(chunk.data(), std::min<uint64_t>(chunk.size(), total - written));
    Status s = writer->Write(part);
    if (!s.ok()) {
      std::fprintf(stderr, "write at %llu: %s\n", static_cast<unsigned long long>(written), s.ToString().c_str());
      return 1;
    }
    written += part.size();
    peak_buffered = std::max(peak_buffered, writer->buffered());
  }
  Status s = writer->Commit();
  if (!s.ok()) {
    std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
    return 1;
  }
  auto head = (*store)->Head(key);
  if (!head.ok()) {
    std::fprintf(stderr, "head: %s\n", head.status().ToString().c_str());
    return 1;
  }
  if (argc == 5) {
    Status deleted = (*store)->Delete(key);
    if (!deleted.ok()) {
      std::fprintf(stderr, "delete: %s\n", deleted.ToString().c_str());
      return 1;
    }
  }
  std::printf("{\"bytes\": %llu, \"stored\": %llu, \"peak_rss_kib\": %ld, \"peak_buffered\": %llu}\n",
              static_cast<unsigned long long>(written), static_cast<unsigned long long>(head->size), PeakRssKib(),
              static_cast<unsigned long long>(peak_buffered));
  return head->size == written ? 0 : 1;
}
