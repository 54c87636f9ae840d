// The aggregate stage (harness/run/aggregate.cc) end to end: which samples each metric counts and
// which metrics a task reports, from runs of the keval binary on the real tasks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "judge.h"
#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::write_file;

nlohmann::json results_of(const std::string& db) {
  auto r = run_keval("results --json --db " + shell_quote(db));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

const nlohmann::json* find_row(const nlohmann::json& results, const std::string& task, const std::string& metric) {
  for (const auto& t : results["tasks"])
    if (t["task"] == task && t["metric"] == metric) return &t;
  return nullptr;
}

std::vector<std::string> sample_ids(const std::string& task, int limit) {
  auto r = run_keval("samples --json --task " + task + " --limit " + std::to_string(limit));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> ids;
  std::stringstream in(r.out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) ids.push_back(nlohmann::json::parse(line)["id"]);
  return ids;
}

TEST(JudgeFailureScore, KeepsTheScorersValues) {
  const nlohmann::json scored = {{"values", {{"hangul_share", 0.75}}}, {"meta", {{"turns", 2}}}};
  const nlohmann::json stored = judge_failure_score(scored, "no verdict", 1);
  EXPECT_EQ(stored["failure"], "judge");
  EXPECT_EQ(stored["message"], "no verdict");
  EXPECT_EQ(stored["turn"], 1);
  EXPECT_EQ(stored["values"]["hangul_share"], 0.75);
  EXPECT_FALSE(stored["values"].contains("judge_score"));
}

// hangul_share measures the model's answers: a sample whose judge gave no verdict still has them.
TEST(Aggregate, HangulShareCountsSamplesWhoseJudgeFailed) {
  ScratchDir dir;
  const auto ids = sample_ids("logickor", 3);
  ASSERT_EQ(ids.size(), 3u);
  std::string answers, verdicts;
  for (const auto& id : ids)
    answers += nlohmann::json{{"task", "logickor"}, {"id", id}, {"responses", {"한국어 답변입니다.", "English answer."}}}.dump() + "\n";
  // Verdicts for the first two samples only: the third's judge fails.
  for (size_t i = 0; i < 2; ++i)
    verdicts += nlohmann::json{{"task", "logickor"}, {"id", ids[i]}, {"judge", {"평가: 좋다.\n점수: 8", "평가: 좋다.\n점수: 6"}}}.dump() + "\n";
  write_file(dir.path() / "answers.jsonl", answers);
  write_file(dir.path() / "verdicts.jsonl", verdicts);
  const std::string db = dir / "k.db";
  auto r = run_keval("run --backend replay --responses " + dir / "answers.jsonl" + " --judge-backend replay --judge-responses " +
                     dir / "verdicts.jsonl" + " --tasks logickor --limit 3 --no-progress --db " + db);
  ASSERT_EQ(r.exit_code, 1) << r.err;  // a judge failure: the run is incomplete
  const auto results = results_of(db);
  const auto* share = find_row(results, "logickor", "hangul_share");
  ASSERT_NE(share, nullptr);
  EXPECT_EQ((*share)["n"], 3);
  EXPECT_EQ((*share)["n_judge_failed"], 0);
  EXPECT_EQ((*share)["partial"], false);
  // Each answer: one Korean turn (1.0), one English turn (0.0).
  EXPECT_DOUBLE_EQ((*share)["value"].get<double>(), 0.5);
  const auto* judged = find_row(results, "logickor", "judge_score");
  ASSERT_NE(judged, nullptr);
  EXPECT_EQ((*judged)["n"], 2);
  EXPECT_EQ((*judged)["n_judge_failed"], 1);
  EXPECT_DOUBLE_EQ((*judged)["value"].get<double>(), 7.0);
}

// acc_norm normalises log-likelihoods; in generation mode it would repeat acc.
TEST(Aggregate, AccNormOnlyForLoglikelihood) {
  ScratchDir dir;
  auto generate = run_keval("run --backend random --mc-mode generate --tasks kobest_hellaswag --limit 5 --no-progress --db " +
                            dir / "g.db");
  ASSERT_EQ(generate.exit_code, 0) << generate.err;
  auto results = results_of(dir / "g.db");
  EXPECT_NE(find_row(results, "kobest_hellaswag", "acc"), nullptr);
  EXPECT_EQ(find_row(results, "kobest_hellaswag", "acc_norm"), nullptr);
  EXPECT_NE(find_row(results, "kobest_hellaswag", "macro_f1"), nullptr);

  auto loglik = run_keval("run --backend random --mc-mode loglik --tasks kobest_hellaswag --limit 5 --no-progress --db " +
                          dir / "l.db");
  ASSERT_EQ(loglik.exit_code, 0) << loglik.err;
  results = results_of(dir / "l.db");
  EXPECT_NE(find_row(results, "kobest_hellaswag", "acc_norm"), nullptr);
}

} // namespace
} // namespace keval
