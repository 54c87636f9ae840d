// Usage, latency and cost: parsed from real-shaped server replies, summed and percentiled from
// stored rows, priced, and the Korean tokenizer figure (docs/report.md defines each).
#include <gtest/gtest.h>

#include "backends/openai_format.h"
#include "usage.h"

namespace keval {
namespace {

// vLLM 0.6's /v1/chat/completions reply, as it sends it.
constexpr const char* k_vllm_chat = R"({"id":"chat-5f0c","object":"chat.completion","created":1733040000,
  "model":"Qwen/Qwen2.5-7B-Instruct","choices":[{"index":0,"message":{"role":"assistant","content":"정답은 B입니다.",
  "tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],
  "usage":{"prompt_tokens":57,"total_tokens":63,"completion_tokens":6,"prompt_tokens_details":null},
  "prompt_logprobs":null})";

// llama.cpp's server (llama-server) /v1/chat/completions reply: usage beside its own timings.
constexpr const char* k_llama_chat = R"({"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant",
  "content":"정답은 C입니다."}}],"created":1733040000,"model":"local","system_fingerprint":"b4240-1a2b3c4d",
  "object":"chat.completion","usage":{"completion_tokens":9,"prompt_tokens":41,"total_tokens":50},"id":"chatcmpl-Xy",
  "timings":{"prompt_n":41,"prompt_ms":35.2,"predicted_n":9,"predicted_ms":120.4}})";

// llama.cpp's /v1/completions reply.
constexpr const char* k_llama_completion = R"({"choices":[{"text":" A","index":0,"logprobs":null,
  "finish_reason":"length"}],"created":1733040000,"model":"local","object":"text_completion",
  "usage":{"completion_tokens":1,"prompt_tokens":23,"total_tokens":24},"id":"chatcmpl-Q"})";

TEST(UsageParsing, VllmChatReplyGivesItsTokens) {
  Response r = openai::parse_chat_response(k_vllm_chat);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.text, "정답은 B입니다.");
  EXPECT_EQ(r.prompt_tokens, 57);
  EXPECT_EQ(r.completion_tokens, 6);
}

TEST(UsageParsing, LlamaCppChatAndCompletionRepliesGiveTheirTokens) {
  Response chat = openai::parse_chat_response(k_llama_chat);
  ASSERT_TRUE(chat.ok()) << chat.message;
  EXPECT_EQ(chat.prompt_tokens, 41);
  EXPECT_EQ(chat.completion_tokens, 9);
  Response completion = openai::parse_completions_response(k_llama_completion);
  ASSERT_TRUE(completion.ok()) << completion.message;
  EXPECT_EQ(completion.text, " A");
  EXPECT_EQ(completion.prompt_tokens, 23);
  EXPECT_EQ(completion.completion_tokens, 1);
}

TEST(UsageParsing, ReplyWithoutUsageHasNoTokensAndStillAnswers) {
  Response r = openai::parse_chat_response(
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"네"},"finish_reason":"stop"}]})");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.text, "네");
  EXPECT_FALSE(r.prompt_tokens);
  EXPECT_FALSE(r.completion_tokens);
  // A usage object that is null, or counts that are not whole non-negative numbers, report nothing.
  for (const char* usage : {R"(null)", R"({"prompt_tokens":-3,"completion_tokens":"7"})", R"({"prompt_tokens":2.5})"}) {
    Response odd = openai::parse_completions_response(
        std::string(R"({"choices":[{"index":0,"text":"x"}],"usage":)") + usage + "}");
    ASSERT_TRUE(odd.ok()) << usage;
    EXPECT_FALSE(odd.prompt_tokens) << usage;
    EXPECT_FALSE(odd.completion_tokens) << usage;
  }
}

TEST(UsageParsing, VllmEchoedLoglikelihoodReplyCountsEveryPrompt) {
  Request r;
  r.kind = RequestKind::loglikelihood;
  r.context = "하늘은";
  r.continuations = {" 파랗다", " 빨갛다"};
  // vLLM: one choice per prompt, echo with logprobs, max_tokens 0: usage over both prompts.
  const std::string body = R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[
    {"index":0,"text":"하늘은 파랗다","logprobs":{"tokens":["하늘은"," 파랗다"],"token_logprobs":[null,-0.5],
     "text_offset":[0,9],"top_logprobs":null},"finish_reason":"length"},
    {"index":1,"text":"하늘은 빨갛다","logprobs":{"tokens":["하늘은"," 빨갛다"],"token_logprobs":[null,-2.5],
     "text_offset":[0,9],"top_logprobs":null},"finish_reason":"length"}],
    "usage":{"prompt_tokens":8,"total_tokens":8,"completion_tokens":0}})";
  Response out = openai::parse_loglikelihood_response(body, r);
  ASSERT_TRUE(out.ok()) << out.message;
  EXPECT_EQ(out.logprobs, (std::vector<double>{-0.5, -2.5}));
  EXPECT_EQ(out.prompt_tokens, 8);
  EXPECT_EQ(out.completion_tokens, 0);
}

TEST(UsageFigures, PercentilesInterpolateBetweenClosestRanks) {
  // numpy.percentile([0.1 .. 1.0], [50, 90, 99]) = 0.55, 0.91, 0.991
  std::vector<double> v = {1.0, 0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5};
  EXPECT_NEAR(*percentile(v, 50), 0.55, 1e-12);
  EXPECT_NEAR(*percentile(v, 90), 0.91, 1e-12);
  EXPECT_NEAR(*percentile(v, 99), 0.991, 1e-12);
  std::vector<double> one = {2.5};
  EXPECT_EQ(*percentile(one, 99), 2.5);
  std::vector<double> none;
  EXPECT_FALSE(percentile(none, 50));
}

TEST(UsageFigures, BusyTimeCountsOverlapsOnce) {
  EXPECT_DOUBLE_EQ(covered_seconds({{0, 2}, {1, 3}, {10, 11}}), 4.0);
  EXPECT_DOUBLE_EQ(covered_seconds({{5, 6}, {0, 10}}), 10.0);
  EXPECT_DOUBLE_EQ(covered_seconds({}), 0.0);
}

TEST(UsageFigures, CostIsTokensTimesPricePerMillion) {
  // 1,200,000 in at $0.15/M and 300,000 out at $0.60/M: 0.18 + 0.18.
  EXPECT_NEAR(*cost_usd(Prices{0.15, 0.60}, 1'200'000, 300'000), 0.36, 1e-12);
  EXPECT_NEAR(*cost_usd(Prices{2.5, std::nullopt}, 4000, 100), 0.01, 1e-12);  // output not priced: free
  EXPECT_FALSE(cost_usd(Prices{0.15, 0.60}, std::nullopt, std::nullopt));     // no usage: unknown, not $0
  EXPECT_FALSE(cost_usd(Prices{}, 10, 10));
}

TEST(UsageFigures, SummaryOfRowsTotalsSentAndCachedApart) {
  std::vector<UsageRow> rows;
  for (int i = 1; i <= 4; ++i) {
    UsageRow r;
    r.ok = true;
    r.latency_seconds = 0.1 * i;
    r.finished_at_seconds = 100.0 + i;  // [99.9+.., 100+i]: four disjoint intervals of 0.1..0.4 s
    r.prompt_tokens = 30;
    r.completion_tokens = 5;
    r.prompt_characters = 20;
    r.prompt_has_hangul = true;
    rows.push_back(r);
  }
  UsageRow failed;
  failed.latency_seconds = 30;  // a timeout: counted in time in flight, not in the answers' latency
  failed.finished_at_seconds = 200;
  rows.push_back(failed);
  UsageRow cached;
  cached.ok = true;
  cached.from_cache = true;
  cached.cached_from_run = "0123456789ab";
  cached.prompt_tokens = 30;
  cached.completion_tokens = 5;
  cached.prompt_characters = 40;
  cached.prompt_has_hangul = true;
  rows.push_back(cached);
  UsageRow english = rows[0];
  english.prompt_has_hangul = false;
  english.prompt_tokens = 1000;
  english.latency_seconds.reset();
  rows.push_back(english);

  const RunUsage u = summarize_usage(rows);
  EXPECT_EQ(u.responses, 7);
  EXPECT_EQ(u.sent, 6);
  EXPECT_EQ(u.failed, 1);
  EXPECT_EQ(u.cached, 1);
  EXPECT_EQ(u.cached_from.at("0123456789ab"), 1);
  EXPECT_EQ(u.with_usage, 5);
  EXPECT_EQ(u.prompt_tokens, 4 * 30 + 1000);  // the cached answer cost nothing
  EXPECT_EQ(u.completion_tokens, 5 * 5);
  EXPECT_EQ(u.latency_n, 4);
  EXPECT_NEAR(*u.latency_p50, 0.25, 1e-12);
  EXPECT_NEAR(*u.busy_seconds, 0.1 + 0.2 + 0.3 + 0.4 + 30, 1e-9);
  EXPECT_NEAR(*u.requests_per_second, 6 / 31.0, 1e-9);
  // Hangul prompts only, cached ones included: (4 * 30 + 30) tokens / (4 * 20 + 40) characters.
  EXPECT_EQ(u.korean_prompts, 5);
  EXPECT_NEAR(*u.tokens_per_1000_korean_characters, 1000.0 * 150 / 120, 1e-9);

  const auto j = usage_json(u, Prices{1.0, 2.0});
  EXPECT_NEAR(j.at("cost_usd").get<double>(), (1120 * 1.0 + 25 * 2.0) / 1e6, 1e-15);
  EXPECT_EQ(j.at("cost_complete"), false);  // the failed request reported no usage
  EXPECT_EQ(j.at("cached_from").at("0123456789ab"), 1);
  EXPECT_FALSE(usage_json(u, Prices{}).contains("cost_usd"));
  const std::string text = format_usage(u, Prices{1.0, 2.0});
  EXPECT_NE(text.find("1 from run 0123456789ab"), std::string::npos) << text;
  EXPECT_NE(text.find("p50 0.250 s"), std::string::npos) << text;
  EXPECT_NE(text.find("1250.0 tokens per 1,000 characters"), std::string::npos) << text;
}

TEST(UsageFigures, PromptCharactersAreCodePointsOfEveryPromptForm) {
  // keval's chat request: every message.
  auto chat = prompt_text_of({{"type", "generate"}, {"messages", {{{"role", "system"}, {"content", "abc"}},
                                                                  {{"role", "user"}, {"content", "한국어"}}}}});
  EXPECT_EQ(chat.characters, 6);
  EXPECT_TRUE(chat.has_hangul);
  // keval's log-likelihood request: context + continuation once per continuation.
  auto loglik = prompt_text_of({{"type", "loglikelihood"}, {"context", "하늘은"}, {"continuations", {" 예", " 아니오"}}});
  EXPECT_EQ(loglik.characters, 3 + 2 + 3 + 4);
  // An OpenAI completions body: the prompt, a string or a list.
  EXPECT_EQ(prompt_text_of({{"prompt", {"ab", "cd"}}}).characters, 4);
  EXPECT_FALSE(prompt_text_of({{"prompt", "plain English"}}).has_hangul);
}

TEST(UsageFigures, DryRunEstimateNeedsEveryTasksTokenCount) {
  const nlohmann::json counted = {{{"task", "a"}, {"tokens", 600'000}}, {{"task", "b"}, {"tokens", 400'000}}};
  auto estimate = estimate_cost(counted, Prices{0.5, 1.5});
  ASSERT_TRUE(estimate);
  EXPECT_EQ((*estimate)["prompt_tokens"], 1'000'000);
  EXPECT_NEAR((*estimate)["input_usd"].get<double>(), 0.5, 1e-12);
  EXPECT_NE(format_estimated_cost(*estimate).find("$0.5 for 1000000 prompt tokens"), std::string::npos);
  const nlohmann::json uncounted = {{{"task", "a"}, {"tokens", 10}}, {{"task", "kobest_copa"}}};
  auto unknown = estimate_cost(uncounted, Prices{0.5, 1.5});
  ASSERT_TRUE(unknown);
  EXPECT_TRUE((*unknown)["input_usd"].is_null());
  EXPECT_NE((*unknown)["reason"].get<std::string>().find("kobest_copa"), std::string::npos);
  EXPECT_FALSE(estimate_cost(counted, Prices{}));
}

} // namespace
} // namespace keval
