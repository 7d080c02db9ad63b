// Replays every input the fuzzers once crashed on (testdata/fuzz-regressions/
// <target>/, see tests/fuzz/README.md) through the same target code, so each
// fix stays fixed in every build, not only in the clang fuzzing build. The
// targets abort on a broken contract; under the sanitizer build (scripts/
// build.sh asan) an out-of-bounds read or undefined behaviour fails too.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "../fuzz/targets.h"

namespace kafka_backup::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> Inputs(const std::string& target) {
  fs::path dir = fs::path(KB_SOURCE_DIR) / "testdata" / "fuzz-regressions" / target;
  std::vector<fs::path> out;
  if (fs::is_directory(dir)) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every kept input is one the parsers must reject, with `code`.
void ReplayAll(const std::string& target, const std::function<Status(std::string_view)>& run, Status::Code code) {
  auto inputs = Inputs(target);
  ASSERT_FALSE(inputs.empty()) << "no inputs in testdata/fuzz-regressions/" << target;
  for (const auto& path : inputs) {
    SCOPED_TRACE(path.string());
    Status s = run(ReadFile(path));
    EXPECT_EQ(s.code(), code) << s.ToString();
  }
}

TEST(FuzzRegressionsTest, SegmentInputsAreRejectedAsCorruption) {
  ReplayAll("segment", Segment, Status::Code::kCorruption);
}

TEST(FuzzRegressionsTest, ManifestInputsAreRejectedAsCorruption) {
  ReplayAll("manifest", Manifest, Status::Code::kCorruption);
}

// The config fuzzer has not crashed yet, so testdata/fuzz-regressions/config/
// is empty. When it does, keep the input there and add its replay here:
// ReplayAll("config", Config, Status::Code::kInvalidArgument).

}  // namespace
}  // namespace kafka_backup::fuzz
