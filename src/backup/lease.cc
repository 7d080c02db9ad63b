#include "backup/lease.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "storage/layout.h"
#include "util/clock.h"

namespace kafka_backup::backup {
namespace {

constexpr std::string_view kFormat = "kafka-backup-lease";
constexpr int kAcquireAttempts = 5;

std::string HostName() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

std::string NewRunId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

// The generations under the backup's lease prefix, highest first.
Result<std::vector<uint64_t>> Generations(storage::ObjectStore& store, const std::string& backup_id) {
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store, storage::layout::LeasePrefix(backup_id)));
  std::vector<uint64_t> out;
  for (const auto& o : objects) {
    if (auto g = storage::layout::ParseLeaseGeneration(backup_id, o.key)) out.push_back(*g);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

// The holder of generation `g`; nullopt when it is gone (released).
Result<std::optional<LeaseHolder>> ReadHolder(storage::ObjectStore& store, const std::string& backup_id, uint64_t g) {
  std::string key = storage::layout::LeaseKey(backup_id, g);
  auto text = store.Get(key);
  if (text.status().code() == Status::Code::kNotFound) return std::optional<LeaseHolder>{};
  if (!text.ok()) return text.status();
  auto holder = ParseLease(*text);
  if (!holder.ok()) {
    // Stores write whole objects: this is damage or a foreign file. It
    // cannot show a live run, so it does not block one.
    spdlog::warn("backup {}: the run lease {} cannot be read ({}); treating it as expired", backup_id, key,
                 holder.status().ToString());
    LeaseHolder expired;
    expired.generation = g;
    return std::optional<LeaseHolder>{expired};
  }
  return std::optional<LeaseHolder>{*holder};
}

Status HeldByOther(const std::string& backup_id, const LeaseHolder& h, int64_t now_ms) {
  return Status::Conflict(fmt::format(
      "backup '{}' is being written by another run (host {}, pid {}, lease renewed {} s ago); stop it first, or "
      "wait until its lease is older than {} s if it died",
      backup_id, h.host, h.pid, std::max<int64_t>(0, now_ms - h.renewed_at_ms) / 1000, h.ttl_secs));
}

}  // namespace

std::string SerializeLease(std::string_view backup_id, const LeaseHolder& h) {
  nlohmann::ordered_json j = {{"format", kFormat},
                              {"format_version", 1},
                              {"backup_id", backup_id},
                              {"generation", h.generation},
                              {"run_id", h.run_id},
                              {"host", h.host},
                              {"pid", h.pid},
                              {"acquired_at_ms", h.acquired_at_ms},
                              {"renewed_at_ms", h.renewed_at_ms},
                              {"ttl_secs", h.ttl_secs}};
  return j.dump(2) + "\n";
}

Result<LeaseHolder> ParseLease(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("a run lease is not a JSON object");
  if (j.value("format", std::string()) != kFormat) return Status::Corruption("not a kafka-backup-lease document");
  auto number = [&](const char* key) -> std::optional<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  auto text_of = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto generation = number("generation");
  auto pid = number("pid");
  auto acquired = number("acquired_at_ms");
  auto renewed = number("renewed_at_ms");
  auto ttl = number("ttl_secs");
  auto run_id = text_of("run_id");
  auto host = text_of("host");
  if (!generation || *generation < 0 || !pid || !acquired || !renewed || !ttl || *ttl <= 0 || !run_id || !host) {
    return Status::Corruption("a run lease lacks a field (generation, run_id, host, pid, renewed_at_ms, ttl_secs)");
  }
  return LeaseHolder{*run_id, *host, *pid, static_cast<uint64_t>(*generation), *acquired, *renewed, *ttl};
}

bool LeaseLive(const LeaseHolder& h, int64_t now_ms) {
  if (h.run_id.empty()) return false;                              // unreadable
  if (now_ms - h.renewed_at_ms > h.ttl_secs * 1000) return false;  // not renewed in time
  if (h.host == HostName() && h.pid > 0) {
    if (h.pid == ::getpid()) return false;                                          // a run of this process that ended
    if (::kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH) return false;  // it died
  }
  return true;
}

Result<std::unique_ptr<Lease>> Lease::Acquire(storage::ObjectStore& store, std::string backup_id, int64_t ttl_secs) {
  LeaseHolder me{NewRunId(), HostName(), ::getpid(), 0, 0, 0, ttl_secs};
  for (int attempt = 0; attempt < kAcquireAttempts; ++attempt) {
    KB_ASSIGN_OR_RETURN(auto generations, Generations(store, backup_id));
    int64_t now_ms = NowMs();
    me.generation = 0;
    if (!generations.empty()) {
      KB_ASSIGN_OR_RETURN(auto top, ReadHolder(store, backup_id, generations.front()));
      if (!top) continue;  // released while we looked: look again
      if (LeaseLive(*top, now_ms)) return HeldByOther(backup_id, *top, now_ms);
      me.generation = generations.front() + 1;
      spdlog::info("backup {}: taking over the run lease of a run that is gone (host {}, pid {})", backup_id, top->host,
                   top->pid);
    }
    me.acquired_at_ms = me.renewed_at_ms = now_ms;
    Status s =
        storage::CreateOnce(store, storage::layout::LeaseKey(backup_id, me.generation), SerializeLease(backup_id, me));
    if (s.code() == Status::Code::kAlreadyExists) continue;  // another run got this generation first
    KB_RETURN_IF_ERROR(s.WithContext(fmt::format("cannot take the run lease of backup '{}'", backup_id)));
    // Older generations belong to runs that are gone.
    for (uint64_t g : generations) (void)store.Delete(storage::layout::LeaseKey(backup_id, g));
    return std::unique_ptr<Lease>(new Lease(store, std::move(backup_id), std::move(me)));
  }
  // Every attempt lost a race: another run holds it now (or runs keep
  // taking it); the next look names the holder.
  KB_ASSIGN_OR_RETURN(auto generations, Generations(store, backup_id));
  if (!generations.empty()) {
    KB_ASSIGN_OR_RETURN(auto top, ReadHolder(store, backup_id, generations.front()));
    if (top && LeaseLive(*top, NowMs())) return HeldByOther(backup_id, *top, NowMs());
  }
  return Status::Conflict(
      fmt::format("backup '{}': other runs kept taking its run lease; run one backup of an id at a time", backup_id));
}

Status Lease::Renew() {
  if (!held_) return Status::Conflict(fmt::format("backup '{}': this run no longer holds its lease", backup_id_));
  KB_ASSIGN_OR_RETURN(auto generations, Generations(store_, backup_id_));
  auto fenced = [&](const std::string& why) {
    held_ = false;
    return Status::Conflict(fmt::format(
        "backup '{}': another run took over this run's lease ({}): this run stops writing; let the other finish",
        backup_id_, why));
  };
  if (!generations.empty() && generations.front() > me_.generation) {
    KB_ASSIGN_OR_RETURN(auto top, ReadHolder(store_, backup_id_, generations.front()));
    return fenced(top ? fmt::format("host {}, pid {}", top->host, top->pid) : "it has ended since");
  }
  KB_ASSIGN_OR_RETURN(auto mine, ReadHolder(store_, backup_id_, me_.generation));
  if (!mine || mine->run_id != me_.run_id) return fenced("generation " + std::to_string(me_.generation) + " is gone");
  me_.renewed_at_ms = NowMs();
  return store_.Put(storage::layout::LeaseKey(backup_id_, me_.generation), SerializeLease(backup_id_, me_));
}

void Lease::Release() {
  if (!held_) return;
  held_ = false;
  Status s = store_.Delete(storage::layout::LeaseKey(backup_id_, me_.generation));
  if (!s.ok()) spdlog::debug("backup {}: cannot release the run lease: {}", backup_id_, s.ToString());
}

Lease::~Lease() {
  Release();
}

}  // namespace kafka_backup::backup
