// --keep-think end to end: replayed answers that reason in a <think> block before answering, where
// the reasoning names a different answer. By default the block is removed once, before scoring,
// so every scorer reads the final answer; with --keep-think every scorer reads the whole text.
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::write_file;

std::vector<nlohmann::json> samples(const std::string& task, int limit) {
  auto r = run_keval("samples --json --task " + task + " --limit " + std::to_string(limit));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> out;
  std::stringstream ss(r.out);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// metric -> value of one task in the run named `run`.
std::map<std::string, nlohmann::json> scores(const std::string& db, const std::string& run, const std::string& task) {
  auto r = run_keval("results --json --db " + shell_quote(db) + " --run " + run);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> out;
  const nlohmann::json results = nlohmann::json::parse(r.out);
  for (const auto& t : results["tasks"])
    if (t["task"] == task) out[t["metric"].get<std::string>()] = t;
  return out;
}

TEST(KeepThink, EveryScorerReadsTheFinalAnswerUnlessTheReasoningIsKept) {
  ScratchDir dir;
  std::string replay;
  // kobest_copa (generation, choice extraction): the reasoning names the wrong label, the answer
  // the right one.
  const auto copa = samples("kobest_copa", 8);
  for (const auto& s : copa) {
    const int gold = s["gold"];
    const std::string right = s["choice_labels"][static_cast<size_t>(gold)], wrong = s["choice_labels"][static_cast<size_t>(1 - gold)];
    replay += nlohmann::json{{"task", "kobest_copa"}, {"id", s["id"]},
                             {"response", "<think>문장을 보면 정답은 " + wrong + "입니다.</think>\n정답은 " + right + "입니다."}}
                  .dump() + "\n";
  }
  // korsts (a number read from the text): the reasoning's number falls as the gold rises, the
  // answer's rises with it.
  const auto sts = samples("korsts", 8);
  for (const auto& s : sts) {
    const double gold = s["gold"];
    replay += nlohmann::json{{"task", "korsts"}, {"id", s["id"]},
                             {"response", "<think>대략 " + std::to_string(5.0 - gold) + "점 정도일까?</think>유사도: " + std::to_string(gold)}}
                  .dump() + "\n";
  }
  // korquad_v1 (extractive QA): the reasoning guesses another span first.
  const auto korquad = samples("korquad_v1", 8);
  for (const auto& s : korquad) {
    const std::string gold = s["gold"].is_array() ? s["gold"][0] : s["gold"];
    replay += nlohmann::json{{"task", "korquad_v1"}, {"id", s["id"]}, {"response", "<think>문단을 다시 읽어 보자.</think>" + gold}}.dump() + "\n";
  }
  write_file(dir / "replay.jsonl", replay);
  const std::string db = dir / "k.db";
  const std::string common = "run --backend replay --responses " + shell_quote(dir / "replay.jsonl") +
                             " --tasks kobest_copa,korsts,korquad_v1 --mc-mode generate --limit 8 --no-progress --db " + shell_quote(db);
  auto r = run_keval(common + " --name stripped");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  r = run_keval(common + " --name kept --keep-think");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;

  // Stripped: every final answer is right.
  auto copa_stripped = scores(db, "stripped", "kobest_copa");
  EXPECT_DOUBLE_EQ(copa_stripped["acc"]["value"].get<double>(), 1.0);
  EXPECT_EQ(copa_stripped["acc"]["n_unparsed"], 0);
  auto sts_stripped = scores(db, "stripped", "korsts");
  EXPECT_NEAR(sts_stripped["pearson"]["value"].get<double>(), 1.0, 1e-9);
  auto korquad_stripped = scores(db, "stripped", "korquad_v1");
  EXPECT_DOUBLE_EQ(korquad_stripped["em"]["value"].get<double>(), 1.0);

  // Kept: the choice extractor meets two different answers (a conflict, unparsed), the number
  // read first is the reasoning's (Pearson -1), and no answer is an exact match.
  auto copa_kept = scores(db, "kept", "kobest_copa");
  EXPECT_DOUBLE_EQ(copa_kept["acc"]["value"].get<double>(), 0.0);
  EXPECT_EQ(copa_kept["acc"]["n_unparsed"], 8);
  auto sts_kept = scores(db, "kept", "korsts");
  EXPECT_NEAR(sts_kept["pearson"]["value"].get<double>(), -1.0, 1e-9);
  auto korquad_kept = scores(db, "kept", "korquad_v1");
  EXPECT_DOUBLE_EQ(korquad_kept["em"]["value"].get<double>(), 0.0);
  EXPECT_LT(korquad_kept["f1"]["value"].get<double>(), korquad_stripped["f1"]["value"].get<double>());
}

} // namespace
} // namespace keval
