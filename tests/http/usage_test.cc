// Usage, latency and cost end to end: keval-mock-server reports `usage` as vLLM and llama.cpp's
// server do; keval stores it per response with each request's latency, totals it in `keval
// results`, and a second run answered from the cache says which run stored those answers.
#include <gtest/gtest.h>

#include "http/mock.h"

namespace keval {
namespace {

using testing::count_rows;
using testing::make_mock_task;
using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;

nlohmann::json results_usage(const std::string& db, const std::string& run) {
  auto r = run_keval("results --json --db " + shell_quote(db) + " " + run);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, false).value("usage", nlohmann::json());
}

TEST(Usage, ServerUsageIsStoredTotalledAndCachedAnswersNameTheirRun) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 10);
  MockServer server;
  const std::string db = dir / "keval.db";
  const std::string run = global + " run --tasks mock_mc --backend openai-chat --model m --base-url " + server.url() +
                          " --no-progress --price-in 1.5 --price-out 6 --db " + shell_quote(db);
  auto first = run_keval(run + " --name first");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // Every stored answer has the server's token counts.
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM responses WHERE prompt_tokens > 0 AND completion_tokens > 0"), 10);
  const auto u = results_usage(db, "first");
  EXPECT_EQ(u["sent"], 10);
  EXPECT_EQ(u["cached"], 0);
  EXPECT_EQ(u["with_usage"], 10);
  EXPECT_EQ(u["prompt_tokens"], count_rows(db, "SELECT SUM(prompt_tokens) FROM responses"));
  const double expected = (u["prompt_tokens"].get<double>() * 1.5 + u["completion_tokens"].get<double>() * 6) / 1e6;
  EXPECT_NEAR(u["cost_usd"].get<double>(), expected, 1e-12);
  EXPECT_EQ(u["cost_complete"], true);
  // The prompts are Korean: the mock cuts at spaces, so a token holds several characters.
  EXPECT_GT(u["tokens_per_1000_korean_characters"].get<double>(), 50);
  EXPECT_LT(u["tokens_per_1000_korean_characters"].get<double>(), 1000);

  // The same run again is answered from the cache, and says from which run.
  auto second = run_keval(run + " --name second");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(server.stats()["total"], 10) << "the second run must not reach the server";
  const std::string first_id = nlohmann::json::parse(run_keval("results --json --db " + shell_quote(db) + " first").out)["run"]["id"];
  const auto cached = results_usage(db, "second");
  EXPECT_EQ(cached["cached"], 10);
  EXPECT_EQ(cached["sent"], 0);
  EXPECT_EQ(cached["cached_from"], nlohmann::json({{first_id, 10}}));
  EXPECT_TRUE(cached["prompt_tokens"].is_null()) << "nothing was sent: no tokens paid for";
  EXPECT_EQ(cached["cost_usd"], nullptr);
  // The tokenizer figure holds for cached answers too: they keep the tokens the server counted.
  EXPECT_EQ(cached["tokens_per_1000_korean_characters"], u["tokens_per_1000_korean_characters"]);
  auto text = run_keval("results --db " + shell_quote(db) + " second");
  EXPECT_NE(text.out.find("cached answers: 10 from run " + first_id), std::string::npos) << text.out;
}

TEST(Usage, CompletionsAndLoglikelihoodRepliesCarryUsage) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 6);
  MockServer server("--flavor vllm");
  const std::string db = dir / "keval.db";
  auto r = run_keval(global + " run --tasks mock_mc --backend openai-completions --model m --base-url " + server.url() +
                     " --no-progress --mc-mode loglik --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One echoed request per sample scores its four choices: usage counts all four prompts, and
  // nothing is generated.
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM responses WHERE prompt_tokens >= 4 AND completion_tokens = 0"), 6);
  // Prices given to `results` alone still give the cost (input only: nothing was generated).
  auto priced = run_keval("results --json --price-in 2 --price-out 8 --db " + shell_quote(db));
  const auto u = nlohmann::json::parse(priced.out)["usage"];
  EXPECT_NEAR(u["cost_usd"].get<double>(), u["prompt_tokens"].get<double>() * 2 / 1e6, 1e-12);
}

TEST(Usage, DryRunSaysWhyItGivesNoCostWithoutTokenCounts) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 4);
  auto r = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --base-url http://127.0.0.1:9/v1 "
                              "--dry-run --json --price-in 1 --price-out 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto plan = nlohmann::json::parse(r.out);
  ASSERT_TRUE(plan.contains("estimated_cost")) << r.out;
  const auto& cost = plan["estimated_cost"];
  if (plan["tasks"][0].contains("tokens")) {
    // The server counted the prompts' tokens (/tokenize): the input cost follows from them.
    EXPECT_NEAR(cost["input_usd"].get<double>(), plan["tasks"][0]["tokens"].get<double>() / 1e6, 1e-12);
  } else {
    EXPECT_TRUE(cost["input_usd"].is_null());
    EXPECT_NE(cost["reason"].get<std::string>().find("mock_mc"), std::string::npos) << cost;
  }
  auto text = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --base-url http://127.0.0.1:9/v1 "
                                 "--dry-run --price-in 1");
  EXPECT_NE(text.out.find("estimated cost: "), std::string::npos) << text.out;
  // Without prices the plan has no cost.
  auto unpriced = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --base-url http://127.0.0.1:9/v1 --dry-run --json");
  EXPECT_FALSE(nlohmann::json::parse(unpriced.out).contains("estimated_cost"));
  // Prices are execution settings: they never change the run key.
  EXPECT_EQ(nlohmann::json::parse(unpriced.out)["run_key"], plan["run_key"]);
  // A price is a number of dollars, never negative.
  EXPECT_EQ(run_keval(global + " run --tasks mock_mc --backend random --dry-run --price-in -1").exit_code, 2);
}

} // namespace
} // namespace keval
