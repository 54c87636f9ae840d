// The judge from the command line with recorded verdicts (no server): LogicKor's published
// judgements of six real models reproduced to 2 decimals, judge failures, pairwise comparison,
// and the judge in a run's configuration.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "text.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::source_dir;
using testing::write_file;

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  for (const auto& line : text::split(std::string(text::strip_bom(slurp(path))), '\n'))
    if (!text::trim(line).empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// (task or "task/metric") -> result row of a run's `results --json`.
std::map<std::string, nlohmann::json> results_of(const std::string& db, const std::string& run) {
  auto r = run_keval("results --json --db " + shell_quote(db) + " --run " + shell_quote(run));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& t : j["tasks"]) out[t["metric"].get<std::string>()] = t;
  out["run"] = j["run"];
  return out;
}

double round2(double v) { return std::round(v * 100.0) / 100.0; }

// A judge_score as the file holds it ("9.0").
std::string score_text(double v) { return nlohmann::json(v).dump(); }

class LogicKorReplay : public ::testing::TestWithParam<std::string> {};

// Each model's answers replayed with the verdicts LogicKor's GPT-4-class judge gave them, rebuilt
// as "평가: …\n점수: N", reproduce the per-category and overall means computed from the file.
TEST_P(LogicKorReplay, ReproducesThePublishedMeans) {
  const std::string file = source_dir() + "/datasets/logickor/evaluated/" + GetParam() + "/default.jsonl";
  ScratchDir dir;
  std::string answers, verdicts;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_category;
  std::vector<double> single, multi;
  for (const auto& row : read_jsonl(file)) {
    const std::string id = row["id"].dump();
    answers += nlohmann::json({{"task", "logickor"}, {"id", id}, {"responses", row["outputs"]}}).dump() + "\n";
    const double s = row["query_single"]["judge_score"], m = row["query_multi"]["judge_score"];
    verdicts += nlohmann::json({{"task", "logickor"}, {"id", id},
                                {"judge", {"평가: " + row["query_single"]["judge_message"].get<std::string>() + "\n점수: " + score_text(s),
                                           "평가: " + row["query_multi"]["judge_message"].get<std::string>() + "\n점수: " + score_text(m)}}})
                    .dump() + "\n";
    by_category[row["category"]].first.push_back(s);
    by_category[row["category"]].second.push_back(m);
    single.push_back(s);
    multi.push_back(m);
  }
  ASSERT_EQ(single.size(), 42u);
  write_file(dir / "answers.jsonl", answers);
  write_file(dir / "verdicts.jsonl", verdicts);
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks logickor --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                     " --judge-backend replay --judge-responses " + shell_quote(dir / "verdicts.jsonl") +
                     " --name replayed --no-progress --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto res = results_of(db, "replayed");
  EXPECT_EQ(res["run"]["status"], "complete");
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return sum / static_cast<double>(v.size());
  };
  ASSERT_TRUE(res.count("judge_single_turn")) << r.out;
  EXPECT_EQ(round2(res["judge_single_turn"]["value"]), round2(mean(single)));
  EXPECT_EQ(round2(res["judge_multi_turn"]["value"]), round2(mean(multi)));
  EXPECT_EQ(round2(res["judge_score"]["value"]), round2((mean(single) + mean(multi)) / 2));
  EXPECT_EQ(res["judge_single_turn"]["n"], 42);
  for (const auto& [category, scores] : by_category) {
    const std::string s = "judge_single_turn/" + category, m = "judge_multi_turn/" + category;
    ASSERT_TRUE(res.count(s)) << s;
    EXPECT_EQ(round2(res[s]["value"]), round2(mean(scores.first))) << s;
    EXPECT_EQ(round2(res[m]["value"]), round2(mean(scores.second))) << m;
    EXPECT_EQ(res[s]["n"], 7) << s;
  }
}

INSTANTIATE_TEST_SUITE_P(SixModels, LogicKorReplay,
                         ::testing::Values("NCSOFT/Llama-VARCO-8B-Instruct", "Qwen/Qwen2-7B-Instruct",
                                           "anthropic/claude-3-5-sonnet-20240620", "nlpai-lab/KULLM3",
                                           "openai/gpt-4o-2024-05-13", "yanolja/EEVE-Korean-Instruct-10.8B-v1.0"),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.find('/'));
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// KoMT-Bench answers for its first `n` questions (ids from 81), all in Korean.
std::string komt_answers(int n, const std::string& flavour) {
  std::string out;
  for (int id = 81; id < 81 + n; ++id)
    out += nlohmann::json({{"task", "komt_bench"}, {"id", std::to_string(id)},
                           {"responses", {flavour + " 첫 답변 " + std::to_string(id), flavour + " 둘째 답변 " + std::to_string(id)}}})
               .dump() + "\n";
  return out;
}

TEST(JudgeCli, WithoutAJudgeOnlyTheJudgeFreeMetricsAreReported) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks logickor --backend random --limit 3 --no-progress --json --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("logickor is scored by a judge model"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["metric"], "hangul_share");
}

TEST(JudgeCli, AMissingVerdictLeavesOutItsTurnOnly) {
  ScratchDir dir;
  write_file(dir / "answers.jsonl", komt_answers(4, "한국어"));
  // Question 83 has no verdict line, 84's second verdict cannot be read.
  write_file(dir / "verdicts.jsonl",
             R"({"task": "komt_bench", "id": "81", "judge": ["좋습니다 [[9]]", "좋습니다 [[7]]"]})" "\n"
             R"({"task": "komt_bench", "id": "82", "judge": ["[[5]]", "[[6]]"]})" "\n"
             R"({"task": "komt_bench", "id": "84", "judge": ["[[8]]", "점수를 매길 수 없습니다."]})" "\n");
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks komt_bench --limit 4 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                     " --judge-backend replay --judge-responses " + shell_quote(dir / "verdicts.jsonl") +
                     " --name partial --no-progress --db " + shell_quote(db));
  // A verdict file that lacks a sample ends the run with exit 1, naming it; the unreadable one
  // is a judge failure too, and neither is fixed by --resume of the same file.
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("verdicts.jsonl has no judge verdict for 1 samples (komt_bench 1)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("1 samples have no readable judge verdict in"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("--resume"), std::string::npos) << r.out;
  auto res = results_of(db, "partial");
  EXPECT_EQ(res["run"]["status"], "incomplete");
  // 83 has no rated turn (not scored); 84 keeps its rated first turn, as FastChat drops only the -1 row.
  EXPECT_EQ(res["judge_score"]["n"], 3);
  EXPECT_EQ(res["judge_score"]["n_judge_failed"], 2);
  EXPECT_DOUBLE_EQ(res["judge_score"]["value"].get<double>(), (9.0 + 7 + 5 + 6 + 8) / 5);
  EXPECT_DOUBLE_EQ(res["judge_turn1"]["value"].get<double>(), (9.0 + 5.0 + 8.0) / 3);
  EXPECT_DOUBLE_EQ(res["judge_turn2"]["value"].get<double>(), (7.0 + 6.0) / 2);
}

TEST(JudgeCli, BadJudgeOptionsAreUsageErrors) {
  ScratchDir dir;
  write_file(dir / "answers.jsonl", komt_answers(1, "한국어"));
  write_file(dir / "bad.jsonl", R"({"task": "komt_bench", "id": "81", "judge": "[[9]]"})" "\n");
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks komt_bench --backend random --judge-model gpt-4o --db " + shell_quote(db));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("need --judge-backend"), std::string::npos) << r.err;
  r = run_keval("run --tasks komt_bench --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                " --judge-backend replay --judge-responses " + shell_quote(dir / "bad.jsonl") + " --db " + shell_quote(db));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.jsonl:1: field 'judge' must be a list"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db)) << "nothing is stored before the options are checked";
  r = run_keval("run --tasks komt_bench --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                " --judge-backend replay --db " + shell_quote(db));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing --judge-responses"), std::string::npos) << r.err;
}

TEST(JudgeCli, RunsJudgedByDifferentJudgesAreNotComparedSilently) {
  ScratchDir dir;
  write_file(dir / "answers.jsonl", komt_answers(2, "한국어"));
  write_file(dir / "verdicts.jsonl", R"({"task": "komt_bench", "id": "81", "judge": ["[[9]]", "[[7]]"]})" "\n"
                                     R"({"task": "komt_bench", "id": "82", "judge": ["[[5]]", "[[6]]"]})" "\n");
  const std::string db = dir / "k.db";
  for (const std::string judge : {"gpt-4-0613", "gpt-4o"}) {
    auto r = run_keval("run --tasks komt_bench --limit 2 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                       " --judge-backend replay --judge-model " + judge + " --judge-responses " +
                       shell_quote(dir / "verdicts.jsonl") + " --name " + judge + " --no-progress --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto c = run_keval("compare gpt-4-0613 gpt-4o --db " + shell_quote(db));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("warning: configurations differ: judge differs"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("gpt-4o"), std::string::npos) << c.out;
}

TEST(JudgeCli, PairwiseCountsWinsTiesAndLossesOverBothOrders) {
  ScratchDir dir;
  write_file(dir / "a.jsonl", komt_answers(3, "모델가"));
  write_file(dir / "b.jsonl", komt_answers(3, "모델나"));
  const std::string db = dir / "k.db";
  for (const std::string name : {"a", "b"}) {
    auto r = run_keval("run --tasks komt_bench --limit 3 --backend replay --responses " + shell_quote(dir / (name + ".jsonl")) +
                       " --name " + name + " --no-progress --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Per question: [turn 1 A first, turn 1 B first, turn 2 A first, turn 2 B first].
  //  81: A wins both orders on turn 1 (A, then B's answer shown first loses: "[[B]]"); turn 2 the
  //      judge prefers whichever is shown first: inconsistent, a tie.
  //  82: B wins both orders on turn 1; both orders call turn 2 a tie.
  //  83: turn 1 has an unreadable verdict (a judge failure); turn 2 A wins.
  write_file(dir / "pairs.jsonl",
             R"({"task": "komt_bench", "id": "81", "judge": ["[[A]]", "[[B]]", "[[A]]", "[[A]]"]})" "\n"
             R"({"task": "komt_bench", "id": "82", "judge": ["[[B]]", "[[A]]", "[[C]]", "[[C]]"]})" "\n"
             R"({"task": "komt_bench", "id": "83", "judge": ["판단 보류", "[[B]]", "[[A]]", "[[B]]"]})" "\n");
  auto r = run_keval("pairwise a b --json --no-progress --judge-backend replay --judge-responses " +
                     shell_quote(dir / "pairs.jsonl") + " --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["turns"].size(), 2u);
  EXPECT_EQ(j["turns"][0]["win"], 1);
  EXPECT_EQ(j["turns"][0]["loss"], 1);
  EXPECT_EQ(j["turns"][0]["tie"], 0);
  EXPECT_EQ(j["turns"][0]["n_judge_failed"], 1);
  EXPECT_EQ(j["turns"][1]["win"], 1);
  EXPECT_EQ(j["turns"][1]["tie"], 2);
  EXPECT_EQ(j["overall"]["n"], 5);
  EXPECT_DOUBLE_EQ(j["overall"]["win_rate"].get<double>(), 2.0 / 5);
  EXPECT_EQ(j["judge"]["protocol"]["protocol"], "mt_bench_pairwise");
  EXPECT_EQ(j["failures"].size(), 1u);
}

} // namespace
} // namespace keval
