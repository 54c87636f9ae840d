// `keval samples --num-fewshot 5` against lm-evaluation-harness's own request building for
// KoBEST and KMMLU, re-implemented from its source in tests/reference/lm_eval_fewshot.py (Python's
// random module, lm-eval's fewshot_context and construct_requests): context and continuations
// must be equal byte for byte.
#include <gtest/gtest.h>

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

std::vector<Request> parse_lines(const std::string& text, const char* context_key, const char* continuations_key) {
  std::vector<Request> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    out.push_back({j.at(context_key).get<std::string>(), j.at(continuations_key).get<std::vector<std::string>>()});
  }
  return out;
}

std::vector<Request> keval_requests(const std::string& task, size_t limit, long long seed) {
  auto r = testing::run_keval("samples --task " + task + " --num-fewshot 5 --json --limit " + std::to_string(limit) +
                              " --fewshot-seed " + std::to_string(seed));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return parse_lines(r.out, "prompt", "choices");
}

std::vector<Request> reference_requests(const std::string& kind, const std::string& eval_file,
                                        const std::string& fewshot_file, size_t limit, long long seed) {
  testing::ScratchDir dir;
  const std::string script = testing::source_dir() + "/tests/reference/lm_eval_fewshot.py";
  const std::string cmd = "python3 " + testing::shell_quote(script) + " " + kind + " " + testing::shell_quote(eval_file) +
                          " " + testing::shell_quote(fewshot_file) + " 5 " + std::to_string(limit) + " " +
                          std::to_string(seed) + " >" + dir / "out";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return parse_lines(testing::slurp(dir.path() / "out"), "context", "continuations");
}

// Compares one task; returns how many documents were compared.
size_t compare_task(const TaskConfig& task, size_t limit, long long seed = 1234) {
  const std::string data = testing::source_dir() + "/datasets/";
  const std::string kind = task.suite == "kmmlu" ? "kmmlu" : task.name;
  EXPECT_TRUE(task.fewshot.has_value()) << task.name;
  if (!task.fewshot) return 0;
  const auto ours = keval_requests(task.name, limit, seed);
  const auto theirs = reference_requests(kind, data + task.dataset.files.at(0), data + task.fewshot->files.at(0), limit, seed);
  EXPECT_EQ(ours.size(), theirs.size()) << task.name;
  size_t compared = 0;
  for (size_t i = 0; i < std::min(ours.size(), theirs.size()); ++i) {
    EXPECT_EQ(ours[i].context, theirs[i].context) << task.name << " document " << i;
    EXPECT_EQ(ours[i].continuations, theirs[i].continuations) << task.name << " document " << i;
    ++compared;
  }
  return compared;
}

TaskRegistry& registry() {
  static TaskRegistry r(KevalPaths{testing::source_dir() + "/tasks", testing::source_dir() + "/datasets"});
  return r;
}

TEST(LmEvalFewshot, EveryKobestTaskAndKmmluSubjectBuildsLmEvalsFiveShotRequests) {
  size_t tasks = 0, documents = 0;
  for (const auto& task : registry().tasks()) {
    if (task.suite != "kobest" && task.suite != "kmmlu") continue;
    documents += compare_task(task, 3);
    ++tasks;
  }
  EXPECT_EQ(tasks, 5u + 45u);
  EXPECT_EQ(documents, 3 * (5u + 45u));
}

// The generator advances document by document: a long run of documents, another seed, and a
// task whose few-shot pool is small (KMMLU dev: 5 rows, so every draw is a permutation).
TEST(LmEvalFewshot, ManyDocumentsAndAnotherSeed) {
  EXPECT_EQ(compare_task(*registry().find_task("kobest_boolq"), 400), 400u);
  EXPECT_EQ(compare_task(*registry().find_task("kmmlu_math"), 300), 300u);
  EXPECT_EQ(compare_task(*registry().find_task("kobest_hellaswag"), 60, 42), 60u);
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
