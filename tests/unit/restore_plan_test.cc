// Restore planning (src/restore/topic_plan.h) without a broker: which topics
// restore.topics selects, and for each its target name, partitions and where
// each record goes; bad settings refused naming the key.
#include <string>

#include <gtest/gtest.h>

#include "format/manifest.h"
#include "kafka/partitioner.h"
#include "restore/topic_plan.h"

namespace kafka_backup::restore {
namespace {

format::TopicManifest Topic(const std::string& name, int32_t partitions) {
  format::TopicManifest t;
  t.name = name;
  t.partition_count = partitions;
  for (int32_t p = 0; p < partitions; ++p) {
    format::PartitionManifest pm;
    pm.partition = p;
    t.partitions.push_back(pm);
  }
  return t;
}

format::Manifest Backup() {
  format::Manifest m;
  m.backup_id = "nightly";
  m.topics = {Topic("orders", 4), Topic("orders-dlq", 1), Topic("payments", 2)};
  return m;
}

std::vector<std::string> Names(const std::vector<const format::TopicManifest*>& topics) {
  std::vector<std::string> names;
  names.reserve(topics.size());
  for (const auto* t : topics) names.push_back(t->name);
  return names;
}

format::RecordView Keyed(const std::string& key) {
  format::RecordView r;
  r.key = key;
  return r;
}

TEST(RestorePlan, TopicsAreSelectedByNameAndGlobInTheManifestsOrder) {
  format::Manifest m = Backup();
  auto all = SelectTopics(m, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Names(*all), (std::vector<std::string>{"orders", "orders-dlq", "payments"}));
  auto some = SelectTopics(m, {"payments", "orders*"});
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(Names(*some), (std::vector<std::string>{"orders", "orders-dlq", "payments"}));
  auto one = SelectTopics(m, {"payments"});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(Names(*one), std::vector<std::string>{"payments"});
}

TEST(RestorePlan, ANameNotInTheBackupIsNotFoundListingWhatItHolds) {
  format::Manifest m = Backup();
  auto missing = SelectTopics(m, {"refunds"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("'refunds'"), std::string::npos) << missing.status().message();
  EXPECT_NE(missing.status().message().find("orders, orders-dlq, payments"), std::string::npos);
  auto no_match = SelectTopics(m, {"audit-*"});
  ASSERT_FALSE(no_match.ok());
  EXPECT_EQ(no_match.status().code(), Status::Code::kNotFound) << "a glob matching nothing restores nothing";
}

TEST(RestorePlan, PerTopicSettingsMayNameOnlyTopicsOfTheBackup) {
  format::Manifest m = Backup();
  RestoreConfig rc;
  rc.topic_mapping = {{"orders", "orders-dr"}};
  EXPECT_TRUE(CheckTopicKeys(rc, m).ok());
  rc.repartitioning = {{"ordres", 8}};
  Status s = CheckTopicKeys(rc, m);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("restore.repartitioning names topic 'ordres'"), std::string::npos) << s.message();
}

TEST(RestorePlan, ByDefaultEveryPartitionGoesToTheSameNumberUnderTheSameName) {
  format::TopicManifest t = Topic("orders", 4);
  auto plan = PlanTopic(t, RestoreConfig{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->target, "orders");
  EXPECT_EQ(plan->target_partitions, 4);
  ASSERT_EQ(plan->partitions.size(), 4u);
  for (const auto* p : plan->partitions) EXPECT_EQ(plan->TargetPartition(*p, Keyed("k")), p->partition);
}

TEST(RestorePlan, RenamedOnlySomePartitionsAndMappedToOthers) {
  format::TopicManifest t = Topic("orders", 4);
  RestoreConfig rc;
  rc.topic_mapping = {{"orders", "orders-dr"}};
  rc.source_partitions = {{"orders", {3, 1}}};
  rc.partition_mapping = {{"orders", {{1, 0}, {3, 9}}}};
  auto plan = PlanTopic(t, rc);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->target, "orders-dr");
  ASSERT_EQ(plan->partitions.size(), 2u);
  EXPECT_EQ(plan->partitions[0]->partition, 1) << "in the backup's order, not the setting's";
  EXPECT_EQ(plan->partitions[1]->partition, 3);
  EXPECT_EQ(plan->TargetPartition(*plan->partitions[0], Keyed("k")), 0);
  EXPECT_EQ(plan->TargetPartition(*plan->partitions[1], Keyed("k")), 9);
  EXPECT_EQ(plan->target_partitions, 10) << "the target needs partition 9";
}

TEST(RestorePlan, RepartitioningSendsKeyedRecordsWhereJavasPartitionerWould) {
  format::TopicManifest t = Topic("orders", 4);
  RestoreConfig rc;
  rc.repartitioning = {{"orders", 12}};
  auto plan = PlanTopic(t, rc);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->target_partitions, 12);
  const format::PartitionManifest& p3 = t.partitions[3];
  for (const std::string key : {"customer-1", "customer-2", "a"}) {
    EXPECT_EQ(plan->TargetPartition(p3, Keyed(key)), kafka::PartitionForKey(key, 12)) << key;
  }
  format::RecordView unkeyed;
  EXPECT_EQ(plan->TargetPartition(p3, unkeyed), 3) << "a record without a key keeps its partition, modulo the count";
  rc.repartitioning = {{"orders", 2}};
  auto fewer = PlanTopic(t, rc);
  ASSERT_TRUE(fewer.ok());
  EXPECT_EQ(fewer->TargetPartition(p3, unkeyed), 1);
}

TEST(RestorePlan, ContradictoryOrOutOfRangeSettingsAreRefusedNamingTheKey) {
  format::TopicManifest t = Topic("orders", 4);
  RestoreConfig both;
  both.partition_mapping = {{"orders", {{0, 1}}}};
  both.repartitioning = {{"orders", 8}};
  auto s = PlanTopic(t, both);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("both restore.partition_mapping and restore.repartitioning"), std::string::npos);

  RestoreConfig past;
  past.source_partitions = {{"orders", {4}}};
  auto p = PlanTopic(t, past);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("restore.source_partitions.orders: partition 4"), std::string::npos)
      << p.status().message();

  RestoreConfig mapped;
  mapped.partition_mapping = {{"orders", {{7, 0}}}};
  auto m = PlanTopic(t, mapped);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("restore.partition_mapping.orders: source partition 7"), std::string::npos);

  RestoreConfig empty;
  empty.topic_mapping = {{"orders", ""}};
  auto e = PlanTopic(t, empty);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("restore.topic_mapping.orders is empty"), std::string::npos);
}

}  // namespace
}  // namespace kafka_backup::restore
