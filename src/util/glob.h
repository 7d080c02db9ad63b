// Topic-name globs as written in config: '*', '?' and '[...]' (fnmatch(3)).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kafka_backup {

bool GlobMatch(const std::string& pattern, const std::string& name);
// True if `pattern` has any glob metacharacter; a pattern without one names a
// single topic, which must then exist.
bool IsGlob(std::string_view pattern);
bool MatchesAny(const std::vector<std::string>& patterns, const std::string& name);

}  // namespace kafka_backup
