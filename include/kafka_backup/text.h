// How kafka-backup shows values to people: sizes, and URLs with any
// credentials taken out.
#pragma once

#include <string>

namespace kafka_backup {

// 1536 -> "1.5 KiB"; whole bytes below 1 KiB ("512 B"), up to TiB.
std::string HumanBytes(double bytes);

// The URL with any user:password@ taken out, for messages and logs.
inline std::string WithoutUserinfo(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t at = url.find('@', start);
  if (at == std::string::npos || at > url.find('/', start)) return url;
  return url.substr(0, start) + "***@" + url.substr(at + 1);
}

}  // namespace kafka_backup
