// ParseTimePoint and FormatRfc3339 moved to the public
// kafka_backup/time_point.h; this name stays for the components that include it.
#pragma once

#include "kafka_backup/time_point.h"

// The components name them util::ParseTimePoint and util::FormatRfc3339.
namespace kafka_backup::util {
using ::kafka_backup::FormatRfc3339;
using ::kafka_backup::ParseTimePoint;
}  // namespace kafka_backup::util
