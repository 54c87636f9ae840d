// Group scores as lm-evaluation-harness's groups compute them: kobest and kmmlu weight their
// members by size (aggregate_metric_list: weight_by_size: true).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval {
namespace {

TEST(LmEvalGroups, KobestIsWeightedBySize) {
  testing::ScratchDir dir;
  auto run = testing::run_keval("run --tasks kobest --backend random --no-progress --db " + dir / "k.db");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto results = testing::run_keval("results --json --db " + dir / "k.db");
  ASSERT_EQ(results.exit_code, 0) << results.err;
  const auto j = nlohmann::json::parse(results.out);
  std::map<std::string, nlohmann::json> by_task;
  for (const auto& row : j.at("tasks"))
    if (row.at("metric") == "acc") by_task[row.at("task")] = row;
  double weighted = 0, n = 0, unweighted = 0;
  for (const char* t : {"kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg", "kobest_wic"}) {
    ASSERT_TRUE(by_task.count(t)) << t;
    weighted += by_task[t].at("value").get<double>() * by_task[t].at("n").get<double>();
    unweighted += by_task[t].at("value").get<double>() / 5;
    n += by_task[t].at("n").get<double>();
  }
  ASSERT_TRUE(by_task.count("kobest"));
  EXPECT_EQ(by_task["kobest"].at("n").get<double>(), 1404 + 1000 + 500 + 397 + 1260);
  EXPECT_NEAR(by_task["kobest"].at("value").get<double>(), weighted / n, 1e-12);
  EXPECT_GT(std::abs(weighted / n - unweighted), 1e-6) << "the two means should differ on these sizes";
}

} // namespace
} // namespace keval
