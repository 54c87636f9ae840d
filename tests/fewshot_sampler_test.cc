// Few-shot drawing rules on a small task: lm-eval's k + 1 draw without the evaluated row when the
// pool is the evaluated split, the first_n sampler, and the errors of a pool too small.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "registry.h"
#include "support/cli.h"
#include "util/error.h"
#include "util/python_random.h"

namespace keval {
namespace {

// Six distinct rows (or with row 1 a copy of row 0), and a task whose few-shot source is the
// evaluated file and split.
struct TinyTask {
  testing::ScratchDir dir;
  explicit TinyTask(const std::string& sampler_line, bool duplicate = false) {
    std::string rows;
    for (int i = 0; i < 6; ++i) {
      const int content = duplicate && i == 1 ? 0 : i;
      rows += "{\"q\": \"질문 " + std::to_string(content) + "\", \"a\": " + std::to_string(content % 2) + "}\n";
    }
    testing::write_file(dir.path() / "datasets/tiny/rows.jsonl", rows);
    testing::write_file(dir.path() / "tasks/tiny.yaml",
                        "task: tiny\nsuite: tiny\nversion: 1\nlicence: test\n"
                        "dataset: {file: tiny/rows.jsonl, format: jsonl, split: test}\n"
                        "fewshot: {file: tiny/rows.jsonl, format: jsonl, split: test}\n" + sampler_line +
                        "output_type: multiple_choice\nprompt: \"{{q}}\"\nchoices: [\"아니오\", \"예\"]\nchoice_labels: [A, B]\n"
                        "target: {field: a, kind: index}\nscorer: multiple_choice\nmetrics: [acc]\n");
  }
  std::vector<Sample> samples(int k, std::int64_t seed = 1234) {
    TaskRegistry r(KevalPaths{dir / "tasks", dir / "datasets"});
    return r.samples(*r.find_task("tiny"), k, std::nullopt, seed);
  }
};

std::string example(size_t row) {
  return "질문 " + std::to_string(row) + " " + (row % 2 ? "예" : "아니오") + "\n\n";
}

TEST(FewshotSampler, PoolIsTheEvaluatedSplitDrawsOneMoreAndDropsTheRow) {
  TinyTask task("");
  const auto samples = task.samples(4, 7);
  ASSERT_EQ(samples.size(), 6u);
  // samplers.py: [x for x in rnd.sample(pool, k + 1) if x != doc][:k], one generator for the task.
  PythonRandom random(7);
  for (size_t row = 0; row < 6; ++row) {
    std::string expected;
    size_t kept = 0;
    for (size_t i : random.sample(6, 5))
      if (i != row && kept < 4) {
        expected += example(i);
        ++kept;
      }
    expected += "질문 " + std::to_string(row);
    EXPECT_EQ(samples[row].prompt, expected) << "row " << row;
    EXPECT_EQ(samples[row].prompt.find(example(row)), std::string::npos) << "row " << row << " shows its own answer";
  }
}

TEST(FewshotSampler, FirstNTakesThePoolsFirstRowsWithoutTheEvaluatedOne) {
  TinyTask task("fewshot_sampler: first_n\n");
  const auto samples = task.samples(2);
  ASSERT_EQ(samples.size(), 6u);
  EXPECT_EQ(samples[0].prompt, example(1) + example(2) + "질문 0");
  EXPECT_EQ(samples[1].prompt, example(0) + example(2) + "질문 1");
  EXPECT_EQ(samples[5].prompt, example(0) + example(1) + "질문 5");
}

TEST(FewshotSampler, TooFewRowsIsAnInputError) {
  TinyTask task("");
  // k + 1 = 6 rows are drawn: the most the pool allows is k = 5.
  EXPECT_NO_THROW(task.samples(5));
  EXPECT_THROW(task.samples(6), InputError);
  // Row 1 equals row 0: both leave the draw for row 0, so 5 of 6 cannot remain.
  TinyTask duplicated("", true);
  EXPECT_THROW(duplicated.samples(5), InputError);
}

TEST(FewshotSampler, UnknownSamplerNamesTheKey) {
  TinyTask task("fewshot_sampler: balanced\n");
  try {
    task.samples(1);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fewshot_sampler"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace keval

namespace keval {
namespace {

std::string config_hash_of_run(const std::string& db, const std::string& name, const std::string& seed_flag) {
  auto run = testing::run_keval("run --tasks kobest_copa --backend random --limit 3 --num-fewshot 2 --no-progress --db " + db +
                                " --name " + name + " " + seed_flag);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  auto runs = testing::run_keval("runs --json --db " + db);
  for (const auto& r : nlohmann::json::parse(runs.out))
    if (r.at("name") == name) return r.at("config_hash").get<std::string>();
  ADD_FAILURE() << "no run " << name;
  return "";
}

// The seed decides the prompts, so it is part of what a run's configuration hash covers.
TEST(FewshotSampler, TheSeedIsPartOfTheRunsConfiguration) {
  testing::ScratchDir dir;
  const std::string db = dir / "runs.db";
  const std::string default_seed = config_hash_of_run(db, "a", "");
  EXPECT_FALSE(default_seed.empty());
  EXPECT_EQ(config_hash_of_run(db, "b", "--fewshot-seed 1234"), default_seed);
  EXPECT_NE(config_hash_of_run(db, "c", "--fewshot-seed 42"), default_seed);
}

} // namespace
} // namespace keval

namespace keval {
namespace {

TEST(FewshotSampler, ResumeRefusesAnotherSeed) {
  testing::ScratchDir dir;
  auto run = testing::run_keval("run --tasks kobest_copa --backend random --limit 2 --num-fewshot 1 --no-progress --name r --db " +
                                dir / "k.db");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto resume = testing::run_keval("run --resume r --fewshot-seed 7 --db " + dir / "k.db");
  EXPECT_EQ(resume.exit_code, 2);
  EXPECT_NE(resume.err.find("--fewshot-seed"), std::string::npos) << resume.err;
}

} // namespace
} // namespace keval
