// `keval samples --num-fewshot 5` against lm-evaluation-harness's own request building for
// KoBEST and KMMLU, re-implemented from its source in tests/reference/lm_eval_fewshot.py (Python's
// random module, lm-eval's fewshot_context and construct_requests): context and continuations
// must be equal byte for byte.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "registry.h"
#include "support/cli.h"

namespace keval {
namespace {

struct Request {
  std::string context;
  std::vector<std::string> continuations;
};
using Requests = std::map<std::string, std::vector<Request>>;  // by task

TaskRegistry& registry() {
  static TaskRegistry r(KevalPaths{testing::source_dir() + "/tasks", testing::source_dir() + "/datasets"});
  return r;
}

std::vector<Request> keval_requests(const std::string& task, size_t limit, long long seed) {
  auto r = testing::run_keval("samples --task " + task + " --num-fewshot 5 --json --limit " + std::to_string(limit) +
                              " --fewshot-seed " + std::to_string(seed));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<Request> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    out.push_back({j.at("prompt").get<std::string>(), j.at("choices").get<std::vector<std::string>>()});
  }
  return out;
}

// One python3 run for every task: (task, limit) pairs, one seed.
Requests reference_requests(const std::vector<std::pair<const TaskConfig*, size_t>>& tasks, long long seed) {
  testing::ScratchDir dir;
  const std::string data = testing::source_dir() + "/datasets/";
  std::string cmd = "python3 " + testing::shell_quote(testing::source_dir() + "/tests/reference/lm_eval_fewshot.py") +
                    " 5 " + std::to_string(seed);
  for (const auto& [task, limit] : tasks) {
    const std::string kind = task->suite == "kmmlu" ? "kmmlu" : task->name;
    cmd += " " + task->name + " " + kind + " " + testing::shell_quote(data + task->dataset.files.at(0)) + " " +
           testing::shell_quote(data + task->fewshot->files.at(0)) + " " + std::to_string(limit);
  }
  cmd += " >" + dir / "out";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  Requests out;
  std::istringstream lines(testing::slurp(dir.path() / "out"));
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    out[j.at("task")].push_back({j.at("context").get<std::string>(), j.at("continuations").get<std::vector<std::string>>()});
  }
  return out;
}

// Compares keval with the reference for each (task, limit); returns how many documents matched.
size_t compare(const std::vector<std::pair<const TaskConfig*, size_t>>& tasks, long long seed = 1234) {
  for (const auto& [task, limit] : tasks) EXPECT_TRUE(task->fewshot.has_value()) << task->name;
  const Requests theirs = reference_requests(tasks, seed);
  size_t matched = 0;
  for (const auto& [task, limit] : tasks) {
    const auto ours = keval_requests(task->name, limit, seed);
    const auto it = theirs.find(task->name);
    if (it == theirs.end()) {
      ADD_FAILURE() << "the reference printed nothing for " << task->name;
      continue;
    }
    EXPECT_EQ(ours.size(), it->second.size()) << task->name;
    for (size_t i = 0; i < std::min(ours.size(), it->second.size()); ++i) {
      EXPECT_EQ(ours[i].context, it->second[i].context) << task->name << " document " << i;
      EXPECT_EQ(ours[i].continuations, it->second[i].continuations) << task->name << " document " << i;
      if (ours[i].context == it->second[i].context && ours[i].continuations == it->second[i].continuations) ++matched;
    }
  }
  return matched;
}

TEST(LmEvalFewshot, EveryKobestTaskAndKmmluSubjectBuildsLmEvalsFiveShotRequests) {
  std::vector<std::pair<const TaskConfig*, size_t>> tasks;
  for (const auto& task : registry().tasks())
    if (task.suite == "kobest" || task.suite == "kmmlu") tasks.push_back({&task, 3});
  ASSERT_EQ(tasks.size(), 5u + 45u);
  EXPECT_EQ(compare(tasks), 3 * (5u + 45u));
}

// The generator advances document by document: a long run of documents, another seed, and a
// task whose few-shot pool is small (KMMLU dev: 5 rows, so every draw is a permutation). All of
// COPA draws the train rows whose question reads "원인 " (lm-eval strips it).
TEST(LmEvalFewshot, ManyDocumentsAndAnotherSeed) {
  EXPECT_EQ(compare({{registry().find_task("kobest_boolq"), 400},
                     {registry().find_task("kmmlu_math"), 300},
                     {registry().find_task("kobest_copa"), 1000}}),
            1700u);
  EXPECT_EQ(compare({{registry().find_task("kobest_hellaswag"), 60}}, 42), 60u);
}

TEST(LmEvalFewshot, TheSeedChangesTheExamples) {
  const auto a = keval_requests("kobest_copa", 3, 1234);
  const auto b = keval_requests("kobest_copa", 3, 1235);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_NE(a[0].context, b[0].context);
}

} // namespace
} // namespace keval
