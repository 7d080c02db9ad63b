#include "util/glob.h"

#include <fnmatch.h>

namespace kafka_backup {

bool GlobMatch(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool IsGlob(std::string_view pattern) {
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

bool MatchesAny(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (GlobMatch(p, name)) return true;
  return false;
}

}  // namespace kafka_backup
