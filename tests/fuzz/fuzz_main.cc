// The libFuzzer entry point of every fuzz target: tests/fuzz/CMakeLists.txt
// builds it once per target, KB_FUZZ_TARGET naming the function of targets.h
// (fuzz_segment: Segment, ...).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)kafka_backup::fuzz::KB_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
