// Reading the XML answers of S3 and Azure (tinyxml2).
#pragma once

#include <tinyxml2.h>

#include <string>

namespace kafka_backup::storage {

// The text of the first child element `name` of `parent`, or "".
inline std::string ChildText(const tinyxml2::XMLElement* parent, const char* name) {
  const tinyxml2::XMLElement* e = parent ? parent->FirstChildElement(name) : nullptr;
  return e && e->GetText() ? std::string(e->GetText()) : std::string();
}

}  // namespace kafka_backup::storage
