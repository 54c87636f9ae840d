// The OpenAI-compatible wire format without a network: payloads compared as JSON, replies
// parsed from literal bodies (as lm-evaluation-harness tests its API models).
#include <gtest/gtest.h>

#include "backends/openai_format.h"
#include "http_engine.h"

namespace keval {
namespace {

Request generate_request() {
  Request r;
  r.kind = RequestKind::generate;
  r.messages = {{"system", "간결하게 답하라."}, {"user", "질문?"}};
  r.prompt = "간결하게 답하라.\n\n질문?";
  r.generation.max_tokens = 32;
  r.generation.stop = {"\n\n"};
  r.generation.temperature = 0.0;
  return r;
}

TEST(OpenAiFormat, ChatPayloadKeepsTheTaskSettings) {
  openai::PayloadOptions o{"m", std::nullopt, std::nullopt};
  auto j = openai::chat_payload(generate_request(), o);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"model": "m", "messages": [{"role": "system", "content": "간결하게 답하라."},
      {"role": "user", "content": "질문?"}], "max_tokens": 32, "temperature": 0.0, "stop": ["\n\n"]})"));
}

TEST(OpenAiFormat, CommandLineReplacesMaxTokensAndTemperature) {
  openai::PayloadOptions o{"m", 1024, 0.7};
  auto j = openai::completions_payload(generate_request(), o);
  EXPECT_EQ(j["prompt"], "간결하게 답하라.\n\n질문?");
  EXPECT_EQ(j["max_tokens"], 1024);
  EXPECT_EQ(j["temperature"], 0.7);
  EXPECT_EQ(j["stop"], nlohmann::json({"\n\n"}));
}

TEST(OpenAiFormat, LoglikelihoodSendsEveryChoiceInOneRequest) {
  Request r;
  r.kind = RequestKind::loglikelihood;
  r.context = "하늘은";
  r.continuations = {" 파랗다", " 초록이다"};
  auto j = openai::loglikelihood_payload(r, {"m", 5, std::nullopt});
  EXPECT_EQ(j, nlohmann::json::parse(R"({"model": "m", "prompt": ["하늘은 파랗다", "하늘은 초록이다"], "echo": true,
      "logprobs": 1, "max_tokens": 0, "temperature": 0.0})"));
}

TEST(OpenAiFormat, ParsesChatAndCompletions) {
  auto chat = openai::parse_chat_response(R"({"choices": [{"index": 0, "message": {"role": "assistant",
      "content": "<think>음</think>정답은 B"}}]})");
  ASSERT_TRUE(chat.ok()) << chat.message;
  EXPECT_EQ(chat.text, "<think>음</think>정답은 B");  // stored raw; the runner strips for scoring
  auto completion = openai::parse_completions_response(R"({"choices": [{"text": " A", "index": 0}]})");
  ASSERT_TRUE(completion.ok());
  EXPECT_EQ(completion.text, " A");
  auto null_content = openai::parse_chat_response(R"({"choices": [{"message": {"content": null}}]})");
  EXPECT_TRUE(null_content.ok());
  EXPECT_EQ(null_content.text, "");
}

TEST(OpenAiFormat, MalformedRepliesSayWhy) {
  EXPECT_EQ(openai::parse_chat_response("{\"choices\": [").failure, FailureKind::malformed);
  EXPECT_EQ(openai::parse_chat_response("[]").failure, FailureKind::malformed);
  auto none = openai::parse_chat_response(R"({"choices": []})");
  EXPECT_EQ(none.failure, FailureKind::malformed);
  EXPECT_NE(none.message.find("choices[0]"), std::string::npos);
  auto error = openai::parse_completions_response(R"({"error": {"message": "model not found"}})");
  EXPECT_EQ(error.failure, FailureKind::backend);
  EXPECT_NE(error.message.find("model not found"), std::string::npos);
}

TEST(OpenAiFormat, ContinuationLogprobSumsTokensPastTheContext) {
  // vLLM's legacy format: the first token has no log-prob; byte offsets.
  auto lp = nlohmann::json::parse(R"({"tokens": ["The", " sky", " is", " blue"],
      "token_logprobs": [null, -1.0, -0.5, -0.25], "text_offset": [0, 3, 7, 10]})");
  std::string error;
  auto v = openai::continuation_logprob(lp, "The sky is", " blue", &error);
  ASSERT_TRUE(v) << error;
  EXPECT_DOUBLE_EQ(*v, -0.25);
  EXPECT_DOUBLE_EQ(*openai::continuation_logprob(lp, "The sky", " is blue", &error), -0.75);
  EXPECT_FALSE(openai::continuation_logprob(lp, "The sky is blue", "", &error));  // nothing left to score
  EXPECT_FALSE(openai::continuation_logprob(nlohmann::json(nullptr), "x", "y", &error));
  // A token generated after the prompt (max_tokens 1) is not part of the continuation.
  auto generated = nlohmann::json::parse(R"({"tokens": ["The", " sky", " is", " blue", "."],
      "token_logprobs": [null, -1.0, -0.5, -0.25, -9.0], "text_offset": [0, 3, 7, 10, 15]})");
  EXPECT_DOUBLE_EQ(*openai::continuation_logprob(generated, "The sky is", " blue", &error), -0.25);
  // Offsets a server does not fill in (-1) come from the tokens' lengths.
  auto unset = nlohmann::json::parse(R"({"tokens": ["The", " sky", " is", " blue"],
      "token_logprobs": [null, -1.0, -0.5, -0.25], "text_offset": [-1, -1, -1, -1]})");
  EXPECT_DOUBLE_EQ(*openai::continuation_logprob(unset, "The sky", " is blue", &error), -0.75);
}

TEST(OpenAiFormat, ContinuationLogprobOfKoreanInBytesOrCodePoints) {
  // "하늘은" is 9 bytes, 3 code points. A server counting bytes and one counting code points.
  auto bytes = nlohmann::json::parse(R"({"tokens": ["하늘", "은", " 파랗다"], "token_logprobs": [null, -0.5, -2.0],
      "text_offset": [0, 6, 9]})");
  auto points = nlohmann::json::parse(R"({"tokens": ["하늘", "은", " 파랗다"], "token_logprobs": [null, -0.5, -2.0],
      "text_offset": [0, 2, 3]})");
  std::string error;
  EXPECT_DOUBLE_EQ(*openai::continuation_logprob(bytes, "하늘은", " 파랗다", &error), -2.0);
  EXPECT_DOUBLE_EQ(*openai::continuation_logprob(points, "하늘은", " 파랗다", &error), -2.0);
}

TEST(OpenAiFormat, LoglikelihoodRepliesAreMatchedByIndex) {
  Request r;
  r.kind = RequestKind::loglikelihood;
  r.context = "A";
  r.continuations = {" x", " y"};
  auto reply = R"({"choices": [
      {"index": 1, "logprobs": {"tokens": ["A", " y"], "token_logprobs": [null, -3.0], "text_offset": [0, 1]}},
      {"index": 0, "logprobs": {"tokens": ["A", " x"], "token_logprobs": [null, -1.0], "text_offset": [0, 1]}}]})";
  auto out = openai::parse_loglikelihood_response(reply, r);
  ASSERT_TRUE(out.ok()) << out.message;
  EXPECT_EQ(out.logprobs, (std::vector<double>{-1.0, -3.0}));
  auto short_reply = openai::parse_loglikelihood_response(R"({"choices": []})", r);
  EXPECT_EQ(short_reply.failure, FailureKind::malformed);
  auto null_inside = openai::parse_loglikelihood_response(R"({"choices": [
      {"index": 0, "logprobs": {"tokens": ["A", " x"], "token_logprobs": [null, null], "text_offset": [0, 1]}},
      {"index": 1, "logprobs": {"tokens": ["A", " y"], "token_logprobs": [null, -3.0], "text_offset": [0, 1]}}]})", r);
  EXPECT_EQ(null_inside.failure, FailureKind::malformed);
}

TEST(OpenAiFormat, LogprobsThatOverflowAreMalformedNotInfinite) {
  Request r;
  r.kind = RequestKind::loglikelihood;
  r.context = "A";
  r.continuations = {" x y"};
  auto out = openai::parse_loglikelihood_response(R"({"choices": [{"index": 0, "logprobs": {"tokens": ["A", " x", " y"],
      "token_logprobs": [null, -1.7e308, -1.7e308], "text_offset": [0, 1, 3]}}]})", r);
  EXPECT_EQ(out.failure, FailureKind::malformed);
  EXPECT_NE(out.message.find("finite"), std::string::npos) << out.message;
}

TEST(HttpEngine, RetryAfterInSecondsOrAsADate) {
  EXPECT_EQ(parse_retry_after("3", 0), 3.0);
  EXPECT_EQ(parse_retry_after(" 0 ", 0), 0.0);
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 s after the epoch.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 10), 10.0);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 10), 0.0);  // in the past: now
  EXPECT_FALSE(parse_retry_after("soon", 0));
  EXPECT_TRUE(retryable_status(429));
  EXPECT_TRUE(retryable_status(408));
  EXPECT_TRUE(retryable_status(409));
  EXPECT_TRUE(retryable_status(503));
  EXPECT_FALSE(retryable_status(400));
  EXPECT_FALSE(retryable_status(404));
  EXPECT_FALSE(retryable_status(422));
}

} // namespace
} // namespace keval
