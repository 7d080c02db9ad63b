// One suite, every backend: the ObjectStore contract (object_store.h) checked
// against real servers. Backends and where they are:
//   filesystem  a temporary directory (always)
//   s3          KB_TEST_S3_URL, e.g. s3://kb-conformance?endpoint=http://127.0.0.1:19000,
//               credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
//   azure       KB_TEST_AZURE_URL, e.g. azure://kb-conformance?account=kbtest&endpoint=http://127.0.0.1:10000/kbtest,
//               the key from AZURE_STORAGE_KEY
//   gcs         KB_TEST_GCS_URL, e.g. gs://kb-conformance, with STORAGE_EMULATOR_HOST=127.0.0.1:4443
// A backend whose server is not configured FAILS (tests/integration starts
// the servers and runs this binary; see tests/integration/test_storage.py).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "storage/azure_store.h"
#include "storage/gcs_store.h"
#include "storage/object_store.h"
#include "storage/s3_store.h"

namespace kafka_backup::storage {
namespace {

std::string RunId() {
  static const std::string id = [] {
    std::random_device rd;
    return "conformance-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
  }();
  return id;
}

// Opens the backend under a fresh prefix; empty error when it could.
Result<std::unique_ptr<ObjectStore>> OpenBackend(const std::string& backend) {
  if (backend == "filesystem") {
    return OpenStore((std::filesystem::temp_directory_path() / ("kb-" + RunId())).string());
  }
  const char* var = backend == "s3" ? "KB_TEST_S3_URL" : backend == "azure" ? "KB_TEST_AZURE_URL" : "KB_TEST_GCS_URL";
  const char* url = std::getenv(var);
  if (!url || !*url) {
    return Status::Unavailable(
        fmt::format("no {} server configured ({}): run through tests/integration (pytest), which starts the servers "
                    "(scripts/s3-server.sh, scripts/azurite.sh, scripts/gcs-server.sh)",
                    backend, var));
  }
  if (backend == "s3") {
    // The bucket is created once; each run works under its own prefix.
    KB_ASSIGN_OR_RETURN(S3Options options, ParseS3Url(url));
    KB_ASSIGN_OR_RETURN(auto credentials, DefaultAwsCredentials(options.region));
    S3Store bucket(options, credentials);
    KB_RETURN_IF_ERROR(bucket.CreateBucket());
  }
  if (backend == "azure") {
    KB_ASSIGN_OR_RETURN(AzureOptions options, ParseAzureUrl(url));
    KB_RETURN_IF_ERROR(AzureStore(options).CreateContainer());
  }
  if (backend == "gcs") {
    KB_ASSIGN_OR_RETURN(GcsOptions options, ParseGcsUrl(url));
    KB_RETURN_IF_ERROR(GcsStore(options).CreateBucket("kafka-backup-tests"));
  }
  std::string u = url;
  auto q = u.find('?');
  std::string base = u.substr(0, q), query = q == std::string::npos ? "" : u.substr(q);
  return OpenStore(base + (base.back() == '/' ? "" : "/") + RunId() + query);
}

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto store = OpenBackend(GetParam());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  std::unique_ptr<ObjectStore> store_;
};

TEST_P(StoreConformance, PutGetHeadDelete) {
  ASSERT_TRUE(store_->Put("a/b/c.bin", "hello").ok());
  auto got = store_->Get("a/b/c.bin");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "hello");
  auto head = store_->Head("a/b/c.bin");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 5u);
  ASSERT_TRUE(store_->Delete("a/b/c.bin").ok());
  EXPECT_EQ(store_->Get("a/b/c.bin").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->Head("a/b/c.bin").status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(store_->Delete("a/b/c.bin").ok()) << "deleting a missing object is OK";
}

TEST_P(StoreConformance, BinaryContentAndOddKeys) {
  std::string bytes;
  for (int i = 0; i < 256 * 4; ++i) bytes.push_back(static_cast<char>(i & 0xff));
  for (std::string key : {"data/topic with space/0/00000000000000000000.kbseg", "data/t.ü+x=1&y/1/z", "e/empty"}) {
    std::string body = key == "e/empty" ? "" : bytes;
    ASSERT_TRUE(store_->Put(key, body).ok()) << key;
    auto got = store_->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    EXPECT_EQ(*got, body) << key;
    EXPECT_EQ(store_->Head(key)->size, body.size()) << key;
  }
  auto listed = ListAll(*store_, "data/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "data/t.ü+x=1&y/1/z");
  EXPECT_EQ((*listed)[1].key, "data/topic with space/0/00000000000000000000.kbseg");
}

TEST_P(StoreConformance, RangedGet) {
  ASSERT_TRUE(store_->Put("x", "0123456789").ok());
  auto got = store_->Get("x", ByteRange{3, 4});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "3456");
  EXPECT_EQ(*store_->Get("x", ByteRange{9, 1}), "9");
  EXPECT_EQ(*store_->Get("x", ByteRange{0, 10}), "0123456789");
  EXPECT_EQ(store_->Get("x", ByteRange{8, 5}).status().code(), Status::Code::kCorruption)
      << "a range past the end means our metadata disagrees with the object";
  EXPECT_EQ(store_->Get("missing", ByteRange{0, 1}).status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, OverwriteReplacesWholeObject) {
  ASSERT_TRUE(store_->Put("x", "a long first version").ok());
  ASSERT_TRUE(store_->Put("x", "short").ok());
  EXPECT_EQ(*store_->Get("x"), "short");
  EXPECT_EQ(store_->Head("x")->size, 5u);
}

// The run lease and the manifest commit rely on it: of two creates of one
// key, one wins and the other is told, and the winner's bytes stay.
TEST_P(StoreConformance, CreateRefusesAnExistingKey) {
  ASSERT_TRUE(store_->Create("lease/0", "first").ok());
  Status second = store_->Create("lease/0", "second");
  EXPECT_EQ(second.code(), Status::Code::kAlreadyExists) << second.ToString();
  EXPECT_EQ(*store_->Get("lease/0"), "first");
  EXPECT_TRUE(CreateOnce(*store_, "lease/0", "first").ok()) << "a retried create that finds its own bytes won";
  EXPECT_EQ(CreateOnce(*store_, "lease/0", "other").code(), Status::Code::kAlreadyExists);
  ASSERT_TRUE(store_->Delete("lease/0").ok());
  EXPECT_TRUE(store_->Create("lease/0", "again").ok()) << "a deleted key can be created again";
  EXPECT_EQ(*store_->Get("lease/0"), "again");
}

TEST_P(StoreConformance, RacingCreatesHaveExactlyOneWinner) {
  for (int round = 0; round < 10; ++round) {
    std::string key = "race/" + std::to_string(round);
    Status results[2];
    std::thread a([&] { results[0] = store_->Create(key, "from a"); });
    std::thread b([&] { results[1] = store_->Create(key, "from b"); });
    a.join();
    b.join();
    int won = results[0].ok() + results[1].ok();
    ASSERT_EQ(won, 1) << "round " << round << ": " << results[0].ToString() << " / " << results[1].ToString();
    const Status& lost = results[0].ok() ? results[1] : results[0];
    EXPECT_EQ(lost.code(), Status::Code::kAlreadyExists) << lost.ToString();
    EXPECT_EQ(*store_->Get(key), results[0].ok() ? "from a" : "from b");
  }
}

TEST_P(StoreConformance, ListPaginatesPastAThousandKeysInOrder) {
  const int n = 1100;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(store_->Put("p/" + std::to_string(10000 + i), "v").ok());
  ASSERT_TRUE(store_->Put("q/other", "v").ok());
  ASSERT_TRUE(store_->Put("p-sibling", "v").ok());
  auto first = store_->List("p/", "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->continuation.empty()) << "1,100 keys take more than one page";
  auto all = ListAll(*store_, "p/");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ((*all)[i].key, "p/" + std::to_string(10000 + i));
    EXPECT_EQ((*all)[i].size, 1u);
  }
  auto none = ListAll(*store_, "nothing-here/");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, LargeObjectRoundTrips) {
  // Past the S3 backend's multipart threshold (32 MiB): several parts.
  std::string big(40u << 20, '\0');
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= big.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(big.data() + i, &v, 8);
  }
  ASSERT_TRUE(store_->Put("big/segment", big).ok());
  EXPECT_EQ(store_->Head("big/segment")->size, big.size());
  auto tail = store_->Get("big/segment", ByteRange{big.size() - 100, 100});
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, big.substr(big.size() - 100));
  auto got = store_->Get("big/segment");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == big);
  ASSERT_TRUE(store_->AbortIncomplete("big/").ok());
  EXPECT_EQ(ListAll(*store_, "big/")->size(), 1u);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

TEST_P(StoreConformance, StreamedObjectIsInvisibleUntilCommitAndHoldsOnePartInMemory) {
  // Uneven writes across several parts (S3 and Azure: 16 MiB).
  const std::string data = RandomBytes((40u << 20) + 12345, 11);
  const size_t chunk = (1u << 20) + 7;
  auto writer = OpenWriter(*store_, "s/segment");
  uint64_t peak = 0;
  for (size_t off = 0; off < data.size(); off += chunk) {
    ASSERT_TRUE(writer->Write(std::string_view(data).substr(off, chunk)).ok());
    peak = std::max(peak, writer->buffered());
    if (off > (20u << 20)) {
      EXPECT_EQ(store_->Head("s/segment").status().code(), Status::Code::kNotFound) << "visible before Commit";
    }
  }
  if (GetParam() != "gcs") {  // GCS takes the whole object at Commit (docs/config.md)
    EXPECT_LE(peak, store_->PartSize() + chunk) << "a streamed object holds at most one part in memory";
  }
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(store_->Head("s/segment")->size, data.size());
  auto got = store_->Get("s/segment");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
  EXPECT_FALSE(writer->Write("more").ok()) << "a committed writer refuses more data";

  auto small = OpenWriter(*store_, "s/small");
  ASSERT_TRUE(small->Write("abc").ok());
  ASSERT_TRUE(small->Write("").ok());
  ASSERT_TRUE(small->Write("def").ok());
  ASSERT_TRUE(small->Commit().ok());
  EXPECT_EQ(*store_->Get("s/small"), "abcdef");
  auto empty = OpenWriter(*store_, "s/empty");
  ASSERT_TRUE(empty->Commit().ok());
  EXPECT_EQ(store_->Head("s/empty")->size, 0u);
}

TEST_P(StoreConformance, AbandonedStreamLeavesNoObject) {
  const std::string data = RandomBytes(20u << 20, 13);
  {
    auto writer = OpenWriter(*store_, "abandoned/segment");
    ASSERT_TRUE(writer->Write(data).ok());
    ASSERT_TRUE(writer->Write(data).ok());
  }  // destroyed without Commit: a crash or an error mid-segment
  EXPECT_EQ(store_->Head("abandoned/segment").status().code(), Status::Code::kNotFound);
  ASSERT_TRUE(store_->AbortIncomplete("abandoned/").ok());
  auto listed = ListAll(*store_, "abandoned/");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::Values("filesystem", "s3", "azure", "gcs"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kafka_backup::storage
