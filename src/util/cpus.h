// How many CPUs this process may use: the smallest of the machine's cores,
// the CPU affinity mask and a cgroup v2 CPU quota (a container's CPU limit,
// /sys/fs/cgroup/cpu.max), so that a backup in a Kubernetes pod limited to
// 2 CPUs starts 2 workers, not one per core of the node.
#pragma once

#include <string>

namespace kafka_backup {

int UsableCpus();
// The quota in `cpu.max` text ("200000 100000" -> 2, "max 100000" -> 0 for
// none); rounded up, at least 1 when limited.
int CpusFromCgroupMax(const std::string& cpu_max);

}  // namespace kafka_backup
