// drill.after_restore: a command of the user's (an application's smoke test,
// a consumer that must start on the restored data) run between the restore
// and the read back, with the scratch topics named in its environment.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kafka_backup/drill.h"

namespace kafka_backup::drill {

// Runs `command` (argv; searched in PATH) with this process's environment
// plus `env`, less the drill's signing key. Its stdout goes to our stderr, so
// --format json stays one document on stdout. After `timeout_secs` its
// process group gets SIGTERM, and 5 s later SIGKILL.
DrillHook RunAfterRestore(const std::vector<std::string>& command,
                          const std::vector<std::pair<std::string, std::string>>& env, int64_t timeout_secs);

}  // namespace kafka_backup::drill
