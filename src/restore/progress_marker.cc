#include "restore/progress_marker.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace kafka_backup::restore {

std::string EncodeProgressMarker(const ProgressMarker& marker) {
  std::string out = fmt::format("{} part={}", kProgressTag, marker.part);
  for (const auto& [partition, next] : marker.next) out += fmt::format(" {}={}", partition, next);
  return out;
}

Result<std::optional<ProgressMarker>> ParseProgressMarker(std::string_view metadata) {
  if (!metadata.starts_with(kProgressTag)) return std::optional<ProgressMarker>();
  std::string_view rest = metadata.substr(kProgressTag.size());
  if (!rest.empty() && rest.front() != ' ') return std::optional<ProgressMarker>();  // another version's tag
  ProgressMarker marker;
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::string_view item = rest.substr(0, rest.find(' '));
    rest.remove_prefix(item.size());
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    bool ok = false;
    if (name == "part") {
      auto part = util::ParseDecimal<uint64_t>(value);
      ok = part.has_value();
      if (ok) marker.part = std::max(marker.part, *part);
    } else {
      auto partition = util::ParseDecimal<int32_t>(name);
      auto next = util::ParseDecimal<int64_t>(value);
      ok = partition && next && *partition >= 0 && *next >= 0;
      if (ok) marker.next[*partition] = *next;
    }
    if (!ok) {
      return Status::Corruption(fmt::format("'{}' is not partition=offset nor part=<sequence>",
                                            item.substr(0, std::min<size_t>(80, item.size()))));
    }
  }
  return std::optional<ProgressMarker>(std::move(marker));
}

std::optional<uint64_t> ParseOffsetMapPartName(std::string_view name) {
  constexpr std::string_view kSuffix = ".json";
  if (!name.ends_with(kSuffix)) return std::nullopt;
  return util::ParseDecimal<uint64_t>(name.substr(0, name.size() - kSuffix.size()));
}

}  // namespace kafka_backup::restore
