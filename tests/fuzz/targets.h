// The bodies of the fuzz targets (tests/fuzz/README.md), shared by the
// libFuzzer executables (fuzz_*.cc) and by the unit test that replays the
// inputs kept in testdata/fuzz-regressions/ (tests/unit/fuzz_regressions_test.cc).
//
// Each function feeds arbitrary bytes to one family of parsers the way the
// library does and checks their contract: they return an error Status of the
// documented kind and never crash, hang or read out of bounds. A broken
// contract (a wrong error code, a document that parses but does not survive a
// serialize/parse round trip) aborts, so the fuzzer reports it as a crash.
#pragma once

#include <string_view>

#include "kafka_backup/status.h"

namespace kafka_backup::fuzz {

// Segment reader: DecodeSegment, and ParseTrailer / ParseIndex / ParseHeader /
// DecodeBlock as catalog::ReadSegment calls them with ranged reads; once on
// the bytes as given and once with their checksums recomputed (so mutations
// reach the code behind the CRC checks); and the input as one block of each
// codec. Returns DecodeSegment's result on the bytes as given.
Status Segment(std::string_view data);

// ParseManifest, ParseOffsetMap and ParseRunStatus. Returns ParseManifest's result.
Status Manifest(std::string_view data);

// ParseConfig (the YAML config). Returns its result.
Status Config(std::string_view data);

// What a restore reads back from the target cluster and the storage's
// listings: ParseProgressMarker (group offset metadata; a marker it reads
// must survive an encode/parse round trip), ParseOffsetMapPartName (object
// names) and util::ParseDecimal (the x-original-offset header's value).
// Returns ParseProgressMarker's result.
Status Progress(std::string_view data);

}  // namespace kafka_backup::fuzz
