// The Kubernetes manifests under deploy/kubernetes/: they parse, the sharded Job is an Indexed Job
// whose completions equal the --shard-count it passes, and both Jobs use one image and one
// volume. The index mapping itself (JOB_COMPLETION_INDEX) is covered by shard_test.cc.
#include <gtest/gtest.h>

#include <regex>

#include <yaml-cpp/yaml.h>

#include "support/cli.h"

namespace keval {
namespace {

std::vector<YAML::Node> load_all(const std::string& name) {
  return YAML::LoadAllFromFile(testing::source_dir() + "/deploy/kubernetes/" + name);
}

YAML::Node find_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  for (const auto& d : docs)
    if (d["kind"] && d["kind"].as<std::string>() == kind) return d;
  ADD_FAILURE() << "no " << kind;
  return YAML::Node();
}

std::string command_of(const YAML::Node& job) {
  std::string out;
  for (const auto& part : job["spec"]["template"]["spec"]["containers"][0]["command"]) out += part.as<std::string>() + " ";
  return out;
}

TEST(Deploy, ShardJobIsAnIndexedJobWhoseCountMatchesItsCommand) {
  const auto docs = load_all("keval-shards.yaml");
  const YAML::Node job = find_kind(docs, "Job");
  ASSERT_TRUE(job);
  EXPECT_EQ(job["spec"]["completionMode"].as<std::string>(), "Indexed");
  const int completions = job["spec"]["completions"].as<int>();
  const std::string command = command_of(job);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(command, m, std::regex(R"(--shard auto --shard-count (\d+))"))) << command;
  EXPECT_EQ(std::stoi(m[1]), completions);
  // Each pod writes its own file, named by its index, on local disk first.
  EXPECT_NE(command.find("shard-$JOB_COMPLETION_INDEX.db"), std::string::npos) << command;
  EXPECT_NE(command.find("--db /work/"), std::string::npos) << command;
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"].as<std::string>(), "Never");
  const YAML::Node claim = find_kind(docs, "PersistentVolumeClaim");
  ASSERT_TRUE(claim);
  bool mounted = false;
  for (const auto& v : job["spec"]["template"]["spec"]["volumes"])
    if (v["persistentVolumeClaim"]) mounted = v["persistentVolumeClaim"]["claimName"].as<std::string>() == claim["metadata"]["name"].as<std::string>();
  EXPECT_TRUE(mounted);
}

TEST(Deploy, MergeJobReadsTheShardsTheShardJobWrites) {
  const YAML::Node shards = find_kind(load_all("keval-shards.yaml"), "Job");
  const YAML::Node merge = find_kind(load_all("keval-merge.yaml"), "Job");
  ASSERT_TRUE(shards && merge);
  const auto image = [](const YAML::Node& job) {
    return job["spec"]["template"]["spec"]["containers"][0]["image"].as<std::string>();
  };
  EXPECT_EQ(image(shards), image(merge));
  const std::string command = command_of(merge);
  EXPECT_NE(command.find("keval merge --db /shards/"), std::string::npos) << command;
  EXPECT_NE(command.find("/shards/shard-*.db"), std::string::npos) << command;
  std::string claim;
  for (const auto& v : merge["spec"]["template"]["spec"]["volumes"])
    if (v["persistentVolumeClaim"]) claim = v["persistentVolumeClaim"]["claimName"].as<std::string>();
  EXPECT_EQ(claim, "keval-shards");
}

} // namespace
} // namespace keval
