// `keval runs` and `keval results` tables: columns that line up whatever the names, and a value
// left empty that says why.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "results_table.h"
#include "scorer.h"
#include "support/cli.h"
#include "text.h"

namespace keval {
namespace {

RunRecord run_named(const std::string& id, const std::string& name, const std::string& model, const std::string& backend) {
  RunRecord r;
  r.id = id;
  r.name = name;
  r.model = model;
  r.backend = backend;
  r.created_at = "2026-12-01T15:00:00.000Z";
  r.status = "complete";
  r.config_hash = std::string(64, 'a');
  r.keval_version = "0.1.0";
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// Where each column starts, in bytes, found as the start of the given cells of each line.
TEST(RunsTable, LongNamesKeepTheColumnsAligned) {
  const std::vector<RunRecord> runs = {
      run_named("0123456789ab", "short", "m", "random"),
      run_named("ba9876543210", "a-much-longer-run-name-than-forty-characters-of-the-old-table", "Qwen/Qwen2.5-72B-Instruct-AWQ",
                "openai-completions"),
      run_named("aaaaaaaaaaaa", "한국어 실행", "exaone", "exec")};
  const auto lines = lines_of(format_runs_table(runs));
  ASSERT_EQ(lines.size(), 4u);
  // The started column begins at one place on every line (the rows' ASCII columns are byte columns).
  const size_t started = lines[0].find("started");
  ASSERT_NE(started, std::string::npos);
  EXPECT_EQ(lines[1].find("2026-12-01"), started) << lines[1];
  EXPECT_EQ(lines[2].find("2026-12-01"), started) << lines[2];
  const size_t backend = lines[0].find("backend");
  EXPECT_EQ(lines[1].find("random"), backend);
  EXPECT_EQ(lines[2].find("openai-completions"), backend);
  // A Hangul name takes two terminal columns a character: padded by display width, not bytes.
  const std::string korean = lines[3].substr(0, lines[3].find("exaone"));
  size_t width = 0;
  for (char32_t c : text::decode(korean)) width += text::is_hangul(c) ? 2 : 1;
  EXPECT_EQ(width, lines[0].find("model"));
}

TEST(ResultsTable, UndefinedCorrelationSaysWhyInTextAndJson) {
  testing::ScratchDir dir;
  Store store(dir / "k.db", StoreAccess::create);
  RunRecord run = run_named("0123456789ab", "sts", "m", "random");
  run.config = {{"tasks", nlohmann::json::array()}};
  store.create_run(run);
  // Every parsed answer is 3.0: a constant has no correlation.
  const std::vector<std::pair<std::string, double>> rows = {{"0", 0.0}, {"1", 1.0}, {"2", 2.0}, {"3", 3.0}};
  for (const auto& [id, gold] : rows) {
    SampleScore s;
    s.predicted_number = 3.0;
    s.gold_number = gold;
    store.put_score(run.id, StoredScore{"klue_sts", id, "scored", "3", s.to_json()});
  }
  TaskResult pearson;
  pearson.task = "klue_sts";
  pearson.metric = "pearson";
  pearson.n = 4;
  std::vector<TaskResult> results = {pearson};
  explain_undefined_values(store, run, results);
  ASSERT_NE(results[0].undefined_reason.find("constant answers"), std::string::npos) << results[0].undefined_reason;
  const std::string text = format_results_table(run, results);
  EXPECT_NE(text.find("klue_sts pearson: no value (constant answers: all 4 parsed answers are 3"), std::string::npos) << text;
  const auto j = results_json(run, results);
  EXPECT_TRUE(j["tasks"][0]["value"].is_null());
  EXPECT_NE(j["tasks"][0]["undefined_reason"].get<std::string>().find("constant answers"), std::string::npos);
}

} // namespace
} // namespace keval
