// Sharded runs: the shard of a sample, `--shard auto` from the schedulers' variables, `keval run
// --dry-run`, and `keval merge` giving exactly the one-machine run's results.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "shard.h"
#include "support/cli.h"
#include "support/errors.h"
#include "error.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::write_file;

// Sets environment variables for one test and restores them after.
class ScopedEnv {
public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"}) {
      if (const char* old = std::getenv(name)) m_saved[name] = old;
      unsetenv(name);
    }
    for (const auto& [name, value] : values) setenv(name, value, 1);
  }
  ~ScopedEnv() {
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"}) {
      auto it = m_saved.find(name);
      if (it != m_saved.end()) setenv(name, it->second.c_str(), 1);
      else unsetenv(name);
    }
  }

private:
  std::map<std::string, std::string> m_saved;
};

TEST(Shard, ParsesIndexOverCount) {
  ScopedEnv env({});
  ShardSpec s = parse_shard("2/4", std::nullopt);
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 4u);
  for (const char* bad : {"4/4", "1/0", "-1/4", "a/b", "3", "1/4/2", "", " 1/4"})
    EXPECT_THROW(parse_shard(bad, std::nullopt), InputError) << bad;
  EXPECT_THROW(parse_shard("1/4", 8), InputError);
}

TEST(Shard, AutoReadsSlurmArrayVariables) {
  {
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "3"}});
    ShardSpec s = parse_shard("auto", std::nullopt);
    EXPECT_EQ(s.index, 2u);  // offset from the array's first index
    EXPECT_EQ(s.count, 4u);
  }
  {
    // One element re-submitted alone: with --shard-count the array index is the shard.
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "1"}, {"SLURM_ARRAY_TASK_MIN", "2"}});
    ShardSpec s = parse_shard("auto", 4);
    EXPECT_EQ(s.index, 2u);
    EXPECT_EQ(s.count, 4u);
  }
  {
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
    EXPECT_THROW(parse_shard("auto", std::nullopt), InputError);
  }
}

TEST(Shard, AutoReadsKubernetesIndexedJobs) {
  ScopedEnv env({{"JOB_COMPLETION_INDEX", "7"}});
  ShardSpec s = parse_shard("auto", 8);
  EXPECT_EQ(s.index, 7u);
  EXPECT_EQ(s.count, 8u);
  EXPECT_THROW(parse_shard("auto", std::nullopt), InputError);  // the count is the Job's completions
  EXPECT_THROW(parse_shard("auto", 7), InputError);
}

TEST(Shard, AutoWithoutASchedulerIsAnError) {
  ScopedEnv env({});
  EXPECT_THROW(parse_shard("auto", 4), InputError);
}

TEST(Shard, EverySampleIsInExactlyOneShardAndShardsAreEven) {
  const size_t n = 8;
  std::vector<size_t> sizes(n);
  const int samples = 20000;
  for (int i = 0; i < samples; ++i) {
    const std::string id = std::to_string(i);
    int owners = 0;
    for (size_t k = 0; k < n; ++k)
      if (in_shard({k, n}, "kmmlu_accounting", id)) {
        ++owners;
        ++sizes[k];
      }
    ASSERT_EQ(owners, 1) << id;
  }
  // Binomial(20000, 1/8): mean 2500, sd 47; 5 sd either way.
  for (size_t k = 0; k < n; ++k) EXPECT_NEAR(static_cast<double>(sizes[k]), samples / 8.0, 235) << k;
  EXPECT_TRUE(in_shard({0, 1}, "any", "id"));
}

nlohmann::json results_of(const std::string& db, const std::string& run) {
  auto r = run_keval("results --json --db " + shell_quote(db) + " --run " + shell_quote(run));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

// LogicKor verdicts for every sample, so the judge phase runs inside the shards too.
std::string judge_replay(const std::string& samples_json_lines) {
  std::string out;
  std::istringstream in(samples_json_lines);
  int k = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto s = nlohmann::json::parse(line);
    const int a = 3 + (k % 7), b = 2 + (k * 3 % 9);
    ++k;
    out += nlohmann::json({{"task", s.at("task")},
                           {"id", s.at("id")},
                           {"judge", {"평가: 질문의 요구사항을 대체로 반영했다.\n점수: " + std::to_string(a),
                                      "평가: 이전 답변과 이어지지만 아쉬운 부분이 있다.\n점수: " + std::to_string(b)}}})
               .dump() +
           "\n";
  }
  return out;
}

TEST(ShardCli, MergedShardsGiveTheOneMachineResults) {
  ScratchDir dir;
  auto samples = run_keval("samples --task logickor --json");
  ASSERT_EQ(samples.exit_code, 0) << samples.err;
  write_file(dir / "verdicts.jsonl", judge_replay(samples.out));
  const std::string args = "--tasks kobest_copa,kmmlu_accounting,korquad_v1,korsts,ko_commongen_v2,logickor --limit 30 "
                           "--backend random --seed 7 --judge-backend replay --judge-responses " +
                           shell_quote(dir / "verdicts.jsonl") + " --no-progress";
  auto one = run_keval("run " + args + " --name one --db " + shell_quote(dir / "one.db"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  std::string shards;
  for (int i = 0; i < 3; ++i) {
    const std::string db = dir / ("shard" + std::to_string(i) + ".db");
    auto r = run_keval("run " + args + " --name nightly-shard" + std::to_string(i) + " --shard " + std::to_string(i) +
                       "/3 --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    shards += " " + shell_quote(db);
  }
  // Into a database that already holds another run: a team's leaderboard database.
  auto other = run_keval("run --tasks kobest_copa --limit 5 --backend random --no-progress --name other --db " +
                         shell_quote(dir / "team.db"));
  ASSERT_EQ(other.exit_code, 0) << other.err;
  auto merged = run_keval("merge --json --db " + shell_quote(dir / "team.db") + shards);
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  auto m = nlohmann::json::parse(merged.out);
  EXPECT_EQ(m["run"]["status"], "complete");
  EXPECT_EQ(m["run"]["name"], "nightly");
  EXPECT_EQ(m["merge"]["imported"], nlohmann::json({0, 1, 2}));

  const auto a = results_of(dir / "one.db", "one");
  const auto b = results_of(dir / "team.db", "nightly");
  ASSERT_GT(a["tasks"].size(), 10u);
  EXPECT_EQ(a["tasks"], b["tasks"]);
  bool judged = false;
  for (const auto& t : b["tasks"]) judged = judged || (t["task"] == "logickor" && t["metric"] == "judge_score" && t["n"] == 30);
  EXPECT_TRUE(judged) << b["tasks"].dump();
  EXPECT_EQ(results_of(dir / "team.db", "other")["run"]["name"], "other");

  // The same shards again: nothing to do, nothing counted twice.
  auto again = run_keval("merge --json --db " + shell_quote(dir / "team.db") + shards);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto j = nlohmann::json::parse(again.out);
  EXPECT_EQ(j["merge"]["imported"], nlohmann::json::array());
  EXPECT_EQ(j["merge"]["unchanged"], nlohmann::json({0, 1, 2}));
  EXPECT_EQ(results_of(dir / "team.db", "nightly")["tasks"], a["tasks"]);
  // compare treats the merged run like any other: no difference from the one-machine run.
  ASSERT_EQ(run_keval("merge --db " + shell_quote(dir / "one.db") + shards).exit_code, 0);
  auto c = run_keval("compare --json --db " + shell_quote(dir / "one.db") + " one nightly");
  ASSERT_EQ(c.exit_code, 0) << c.err;
}

TEST(ShardCli, MissingShardsLeaveTheRunIncompleteUntilMerged) {
  ScratchDir dir;
  const std::string args = "--tasks kobest_copa,korquad_v1 --limit 40 --backend random --no-progress";
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(run_keval("run " + args + " --shard " + std::to_string(i) + "/4 --db " +
                        shell_quote(dir / ("s" + std::to_string(i) + ".db"))).exit_code, 0);
  auto first = run_keval("merge --json --db " + shell_quote(dir / "m.db") + " " + shell_quote(dir / "s0.db") + " " +
                         shell_quote(dir / "s2.db"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["run"]["status"], "incomplete");
  EXPECT_EQ(j["merge"]["missing_shards"], nlohmann::json({1, 3}));
  EXPECT_GT(j["merge"]["missing_samples"]["korquad_v1"].get<int>(), 0);
  auto text = run_keval("merge --db " + shell_quote(dir / "m.db") + " " + shell_quote(dir / "s1.db"));
  EXPECT_NE(text.out.find("missing shards 3 of 4"), std::string::npos) << text.out;
  auto rest = run_keval("merge --json --db " + shell_quote(dir / "m.db") + " " + shell_quote(dir / "s3.db"));
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  j = nlohmann::json::parse(rest.out);
  EXPECT_EQ(j["run"]["status"], "complete");
  EXPECT_EQ(j["merge"]["missing_shards"], nlohmann::json::array());
}

TEST(ShardCli, ShardsOfDifferentRunsAreRefusedNamingWhatDiffers) {
  ScratchDir dir;
  ASSERT_EQ(run_keval("run --tasks kobest_copa --limit 10 --backend random --seed 1 --shard 0/2 --no-progress --db " +
                      shell_quote(dir / "a.db")).exit_code, 0);
  ASSERT_EQ(run_keval("run --tasks kobest_copa --limit 10 --backend random --seed 2 --shard 1/2 --no-progress --db " +
                      shell_quote(dir / "b.db")).exit_code, 0);
  auto r = run_keval("merge --db " + shell_quote(dir / "m.db") + " " + shell_quote(dir / "a.db") + " " +
                     shell_quote(dir / "b.db"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("backend.seed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a.db"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "m.db") && run_keval("runs --json --db " + shell_quote(dir / "m.db")).out.find("kobest") != std::string::npos);
  // Two different shard counts, and a database with no shard run.
  ASSERT_EQ(run_keval("run --tasks kobest_copa --limit 10 --backend random --seed 1 --shard 1/3 --no-progress --db " +
                      shell_quote(dir / "c.db")).exit_code, 0);
  r = run_keval("merge --db " + shell_quote(dir / "m.db") + " " + shell_quote(dir / "a.db") + " " + shell_quote(dir / "c.db"));
  EXPECT_EQ(r.exit_code, 2);
  ASSERT_EQ(run_keval("run --tasks kobest_copa --limit 10 --backend random --no-progress --db " + shell_quote(dir / "plain.db")).exit_code, 0);
  r = run_keval("merge --db " + shell_quote(dir / "m.db") + " " + shell_quote(dir / "plain.db"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no shard run"), std::string::npos) << r.err;
}

TEST(ShardCli, DryRunPrintsThePlanAndStoresNothing) {
  ScratchDir dir;
  auto r = run_keval("run --tasks kobest_copa,logickor --limit 10 --backend random --dry-run --json --db " +
                     shell_quote(dir / "x.db"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.db"));
  auto plan = nlohmann::json::parse(r.out);
  ASSERT_EQ(plan["tasks"].size(), 2u);
  EXPECT_EQ(plan["tasks"][0]["requests"], 10);
  EXPECT_EQ(plan["tasks"][1]["mode"], "dialogue");
  EXPECT_EQ(plan["tasks"][1]["requests"], 20);  // two turns each
  EXPECT_EQ(plan["total"]["requests"], 30);
  EXPECT_GT(plan["total"]["characters"].get<int>(), 1000);
  // The same command gives the same run key; another seed another key; a shard the same key.
  auto again = nlohmann::json::parse(run_keval("run --tasks kobest_copa,logickor --limit 10 --backend random --dry-run --json").out);
  EXPECT_EQ(again["run_key"], plan["run_key"]);
  auto shard = nlohmann::json::parse(
      run_keval("run --tasks kobest_copa,logickor --limit 10 --backend random --dry-run --json --shard 1/2").out);
  EXPECT_EQ(shard["run_key"], plan["run_key"]);
  EXPECT_LT(shard["total"]["requests"].get<int>(), 30);
  auto other = nlohmann::json::parse(
      run_keval("run --tasks kobest_copa,logickor --limit 10 --backend random --seed 9 --dry-run --json").out);
  EXPECT_NE(other["run_key"], plan["run_key"]);
  auto text = run_keval("run --tasks kobest_copa --limit 10 --backend random --dry-run");
  EXPECT_NE(text.out.find("kobest_copa"), std::string::npos);
  EXPECT_NE(text.out.find("nothing sent"), std::string::npos);
}

} // namespace
} // namespace keval
