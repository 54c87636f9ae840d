// Few-shot drawing rules on a small task: lm-eval's k + 1 draw without the evaluated row when the
// pool is the evaluated split, the first_n sampler, and the errors of a pool too small.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <map>
#include <sstream>

#include <string>
#include <vector>

#include "registry.h"
#include "support/cli.h"
#include "error.h"
#include "python_random.h"

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

namespace keval {
namespace {

// The last user message of each stored request, by sample id. An exec backend's stored request
// is what it sent: the program and the request line ({"cmd", "request"}).
std::map<std::string, std::string> stored_questions(const std::string& path) {
  std::map<std::string, std::string> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_exec(db, "SELECT sample_id, request_json FROM responses WHERE status = 'ok'", [](void* o, int, char** v, char**) {
    auto j = nlohmann::json::parse(v[1], nullptr, false);
    if (!j.is_discarded() && j.contains("request")) j = j["request"];
    if (!j.is_discarded() && j.contains("messages") && !j["messages"].empty())
      (*static_cast<std::map<std::string, std::string>*>(o))[v[0]] = j["messages"].back().value("content", "");
    return 0;
  }, &out, nullptr);
  sqlite3_close(db);
  return out;
}

// A resumed run rebuilds the prompts it still has to send with the seed it was started with.
TEST(FewshotSampler, ResumeUsesTheRunsSeed) {
  testing::ScratchDir dir;
  const std::string args = "--limit 4 --num-fewshot 2 --fewshot-seed 42";
  auto samples = testing::run_keval("samples --task kobest_copa --json " + args);
  ASSERT_EQ(samples.exit_code, 0) << samples.err;
  std::vector<nlohmann::json> rows;
  std::istringstream lines(samples.out);
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 4u);
  // A local model that fails every other request until the file `ok` exists.
  const std::string model = dir / "model.py";
  testing::write_file(model,
                      "import json, os, sys\n"
                      "n = 0\n"
                      "for line in sys.stdin:\n"
                      "    r = json.loads(line)\n"
                      "    n += 1\n"
                      "    fail = n % 2 == 0 and not os.path.exists(" + testing::shell_quote(dir / "ok") + ")\n"
                      "    print(json.dumps({'id': r['id'], 'error': 'busy'} if fail else {'id': r['id'], 'text': '1'}), flush=True)\n");
  auto run = testing::run_keval("run --tasks kobest_copa --backend exec --mc-mode generate --no-progress --name r " + args +
                                " --cmd " + testing::shell_quote("python3 " + model) + " --db " + dir / "k.db");
  ASSERT_NE(run.exit_code, 2) << run.err;
  ASSERT_EQ(stored_questions(dir / "k.db").size(), 2u) << run.err;
  testing::write_file(dir.path() / "ok", "");
  auto resume = testing::run_keval("run --resume r --no-progress --db " + dir / "k.db");
  ASSERT_EQ(resume.exit_code, 0) << resume.err;
  const auto stored = stored_questions(dir / "k.db");
  ASSERT_EQ(stored.size(), 4u);
  for (const auto& s : rows) EXPECT_EQ(stored.at(s.at("id").get<std::string>()), s.at("messages").back().at("content")) << s.at("id");
}

} // namespace
} // namespace keval
