// The run lease: at most one run writes a backup id at a time.
//
// A run takes generation g of the lease by creating leases/<id>/<g>.json with
// the store's conditional create, so of two runs starting at the same instant
// exactly one gets it; g is one past the highest generation there, 0 when
// there is none. A generation may be taken over only when its holder is gone:
// not renewed for its ttl, or, on the same host, its process no longer runs.
// The holder renews at each status update, and is fenced (Conflict) when its
// generation is gone, holds another run's id or a higher one exists. It
// releases by deleting its generation when it stops; a killed run's lease
// stays until it expires (docs/format/manifest.md, "The run lease").
//
// Owns: the lease document and the liveness rule for it. May depend on:
// storage, util.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kafka_backup/status.h"
#include "storage/object_store.h"

namespace kafka_backup::backup {

struct LeaseHolder {
  std::string run_id;  // random, unique to the run
  std::string host;
  int64_t pid = 0;
  uint64_t generation = 0;
  int64_t acquired_at_ms = 0;
  int64_t renewed_at_ms = 0;
  int64_t ttl_secs = 0;
};

std::string SerializeLease(std::string_view backup_id, const LeaseHolder& holder);
Result<LeaseHolder> ParseLease(std::string_view text);

// True when `holder` may still be running at `now_ms`, seen from this host.
bool LeaseLive(const LeaseHolder& holder, int64_t now_ms);

class Lease {
 public:
  // Conflict when another live run holds the lease (naming it).
  static Result<std::unique_ptr<Lease>> Acquire(storage::ObjectStore& store, std::string backup_id, int64_t ttl_secs);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Records that this run is alive; Conflict when another run took the
  // lease over (this run must then stop writing).
  Status Renew();
  // Deletes this run's generation (best effort; the destructor does it too).
  void Release();

  uint64_t generation() const { return me_.generation; }

 private:
  Lease(storage::ObjectStore& store, std::string backup_id, LeaseHolder me)
      : store_(store), backup_id_(std::move(backup_id)), me_(std::move(me)) {}

  storage::ObjectStore& store_;
  std::string backup_id_;
  LeaseHolder me_;
  bool held_ = true;
};

}  // namespace kafka_backup::backup
