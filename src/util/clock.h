// NowMs moved to the public kafka_backup/clock.h; this name stays for the
// components that include it.
#pragma once

#include "kafka_backup/clock.h"
