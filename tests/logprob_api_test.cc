// The native prompt log-prob shapes (SGLang's and TGI's /generate), the refusals that say a
// prompt was longer than the context, and each server's /tokenize and context size, as pure
// functions on the servers' own request and reply shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/logprob_api.h"
#include "server_probe.h"

namespace keval::openai {
namespace {

Request boolq_request() {
  Request r;
  r.kind = RequestKind::loglikelihood;
  r.context = "질문: 서울은 수도인가?\n답변:";
  r.continuations = {" 예", " 아니오"};
  return r;
}

TEST(LogprobApi, SglangScoresEveryTextInOneRequestFromItsPromptStart) {
  PayloadOptions o;
  o.model = "m";
  const auto calls = loglikelihood_calls(LogprobApi::sglang, boolq_request(), o);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].path, "/generate");
  const auto body = nlohmann::json::parse(calls[0].body);
  EXPECT_EQ(body["text"], nlohmann::json::array({"질문: 서울은 수도인가?\n답변:", "질문: 서울은 수도인가?\n답변: 예",
                                                 "질문: 서울은 수도인가?\n답변: 아니오"}));
  EXPECT_EQ(body["return_logprob"], true);
  EXPECT_EQ(body["logprob_start_len"], 0);
  EXPECT_EQ(body["sampling_params"]["max_new_tokens"], 0);
  EXPECT_TRUE(at_server_root(LogprobApi::sglang));
  EXPECT_FALSE(at_server_root(LogprobApi::openai));
}

TEST(LogprobApi, SglangSumsTheWholeTextsTokensPastTheContextsCount) {
  // input_token_logprobs as SGLang sends them: [logprob, token id, text or null], the first null.
  const std::string reply = R"([
    {"text": "", "meta_info": {"input_token_logprobs": [[null, 1, null], [-1.5, 7, null], [-2.0, 9, null]]}},
    {"text": "", "meta_info": {"input_token_logprobs": [[null, 1, null], [-1.5, 7, null], [-2.0, 9, null], [-0.25, 11, null]]}},
    {"text": "", "meta_info": {"input_token_logprobs": [[null, 1, null], [-1.5, 7, null], [-2.0, 9, null], [-3.0, 12, null], [-0.5, 13, null]]}}
  ])";
  const Response r = parse_loglikelihood_part(LogprobApi::sglang, reply, boolq_request(), 0);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logprobs.size(), 2u);
  EXPECT_DOUBLE_EQ(r.logprobs[0], -0.25);
  EXPECT_DOUBLE_EQ(r.logprobs[1], -3.5);
  EXPECT_FALSE(r.prompt_tokens) << "no meta_info.prompt_tokens: no usage";
  const std::string counted = R"([{"meta_info": {"prompt_tokens": 2, "completion_tokens": 0, "input_token_logprobs": [[null, 1, null], [-1, 2, null]]}},
                                  {"meta_info": {"prompt_tokens": 3, "completion_tokens": 0, "input_token_logprobs": [[null, 1, null], [-1, 2, null], [-2, 3, null]]}},
                                  {"meta_info": {"prompt_tokens": 3, "completion_tokens": 0, "input_token_logprobs": [[null, 1, null], [-1, 2, null], [-4, 4, null]]}}])";
  const Response usage = parse_loglikelihood_part(LogprobApi::sglang, counted, boolq_request(), 0);
  ASSERT_TRUE(usage.ok()) << usage.message;
  EXPECT_EQ(usage.prompt_tokens, 8);
  EXPECT_EQ(usage.completion_tokens, 0);
}

TEST(LogprobApi, SglangRepliesOfAnotherShapeAreMalformed) {
  const Request req = boolq_request();
  // One reply for three texts; a reply without input log-probs (logprob_start_len ignored).
  EXPECT_EQ(parse_loglikelihood_part(LogprobApi::sglang, R"({"text": "", "meta_info": {}})", req, 0).failure,
            FailureKind::malformed);
  const std::string no_input = R"([{"meta_info": {"input_token_logprobs": []}}, {"meta_info": {"input_token_logprobs": []}},
                                   {"meta_info": {"input_token_logprobs": []}}])";
  EXPECT_EQ(parse_loglikelihood_part(LogprobApi::sglang, no_input, req, 0).failure, FailureKind::malformed);
  // A continuation that adds no token scores nothing: refused, not 0.
  const std::string same = R"([{"meta_info": {"input_token_logprobs": [[null, 1, null], [-1, 2, null]]}},
                               {"meta_info": {"input_token_logprobs": [[null, 1, null], [-1, 2, null]]}},
                               {"meta_info": {"input_token_logprobs": [[null, 1, null], [-1, 2, null], [-2, 3, null]]}}])";
  EXPECT_EQ(parse_loglikelihood_part(LogprobApi::sglang, same, req, 0).failure, FailureKind::malformed);
  // An error object in a 200 reply (SGLang's and vLLM's {"object": "error"}) is the server's message.
  const Response e = parse_loglikelihood_part(LogprobApi::sglang, R"({"object": "error", "message": "bad"})", req, 0);
  EXPECT_EQ(e.failure, FailureKind::backend);
  EXPECT_NE(e.message.find("bad"), std::string::npos);
}

TEST(LogprobApi, TgiAsksOneTextARequestAndCombinesTheirPrefill) {
  PayloadOptions o;
  const Request req = boolq_request();
  const auto calls = loglikelihood_calls(LogprobApi::tgi, req, o);
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.path, "/generate");
    const auto body = nlohmann::json::parse(c.body);
    EXPECT_EQ(body["parameters"]["decoder_input_details"], true);
    EXPECT_EQ(body["parameters"]["details"], true);
    EXPECT_EQ(body["parameters"]["max_new_tokens"], 1);  // TGI refuses 0
  }
  EXPECT_EQ(nlohmann::json::parse(calls[2].body)["inputs"], "질문: 서울은 수도인가?\n답변: 아니오");
  // details.prefill as TGI sends it: the first token's log-prob null.
  auto part = [&](const std::string& prefill, size_t k) {
    return parse_loglikelihood_part(LogprobApi::tgi,
                                    R"({"generated_text": " 예", "details": {"finish_reason": "length", "prefill": )" + prefill + "}}", req, k);
  };
  std::vector<Response> parts{part(R"([{"id": 1, "text": "<s>", "logprob": null}, {"id": 5, "text": "질문", "logprob": -4.0}])", 0),
                              part(R"([{"id": 1, "text": "<s>", "logprob": null}, {"id": 5, "text": "질문", "logprob": -4.0},
                                       {"id": 8, "text": " 예", "logprob": -0.75}])", 1),
                              part(R"([{"id": 1, "text": "<s>", "logprob": null}, {"id": 5, "text": "질문", "logprob": -4.0},
                                       {"id": 9, "text": " 아", "logprob": -2.0}, {"id": 10, "text": "니오", "logprob": -0.5}])", 2)};
  for (const auto& p : parts) ASSERT_TRUE(p.ok()) << p.message;
  EXPECT_TRUE(std::isnan(parts[0].logprobs[0]));
  const Response combined = combine_loglikelihood_parts(LogprobApi::tgi, req, parts);
  ASSERT_TRUE(combined.ok()) << combined.message;
  EXPECT_DOUBLE_EQ(combined.logprobs[0], -0.75);
  EXPECT_DOUBLE_EQ(combined.logprobs[1], -2.5);
  EXPECT_EQ(combined.prompt_tokens, 2 + 3 + 4);  // every text's prefill
  // Without decoder_input_details TGI sends no prefill: the reply does not fit.
  EXPECT_EQ(parse_loglikelihood_part(LogprobApi::tgi, R"({"generated_text": " 예"})", req, 0).failure, FailureKind::malformed);
}

TEST(LogprobApi, NamesParseAndTheOpenAiShapeIsTheEchoPayload) {
  EXPECT_EQ(parse_logprob_api("tgi"), LogprobApi::tgi);
  EXPECT_EQ(parse_logprob_api("sglang"), LogprobApi::sglang);
  EXPECT_EQ(parse_logprob_api("openai"), LogprobApi::openai);
  EXPECT_FALSE(parse_logprob_api("auto"));
  EXPECT_FALSE(parse_logprob_api("vllm"));
  PayloadOptions o;
  o.model = "m";
  const auto calls = loglikelihood_calls(LogprobApi::openai, boolq_request(), o);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].path, "/completions");
  EXPECT_EQ(nlohmann::json::parse(calls[0].body), loglikelihood_payload(boolq_request(), o));
}

TEST(ContextExceeded, EachServersWordingIsRecognised) {
  // llama.cpp (server-context.cpp), vLLM, SGLang (tokenizer manager), TGI (router validation).
  EXPECT_TRUE(says_context_exceeded(400, R"(HTTP 400: {"error":{"code":400,"message":"request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9412,"n_ctx":8192}})"));
  EXPECT_TRUE(says_context_exceeded(400, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
                                         "(4744 in the messages, 256 in the completion)."));
  EXPECT_TRUE(says_context_exceeded(400, "The input (5000 tokens) is longer than the model's context length (4096 tokens)."));
  EXPECT_TRUE(says_context_exceeded(400, "Requested token count exceeds the model's maximum context length of 4096 tokens."));
  EXPECT_TRUE(says_context_exceeded(422, R"({"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 256 `max_new_tokens`","error_type":"validation"})"));
  EXPECT_TRUE(says_context_exceeded(422, "Input validation error: `inputs` must have less than 4095 tokens. Given: 5000"));
  // Other refusals, and the wording under a status that is not a refusal of the request, are not.
  EXPECT_FALSE(says_context_exceeded(400, R"({"error": {"message": "model 'x' not found"}})"));
  EXPECT_FALSE(says_context_exceeded(500, "exceeds the available context size"));
  Response r = Response::failed(FailureKind::http_status, "POST /v1/completions: HTTP 400: exceed_context_size_error");
  r.http_status = 400;
  classify_context_exceeded(r);
  EXPECT_EQ(r.failure, FailureKind::context_exceeded);
  Response timeout = Response::failed(FailureKind::timeout, "maximum context length");
  classify_context_exceeded(timeout);
  EXPECT_EQ(timeout.failure, FailureKind::timeout);
}

} // namespace
} // namespace keval::openai

namespace keval {
namespace {

TEST(ServerContext, EachServerStatesItsLimitItsOwnWay) {
  const nlohmann::json llama = {{"props", {{"model_path", "/m.gguf"}, {"n_ctx", 2048}, {"total_slots", 4}}}};
  auto limit = context_limit(llama);
  ASSERT_TRUE(limit);
  EXPECT_EQ(server_kind(llama), ServerKind::llama_cpp);
  EXPECT_EQ(limit->tokens, 2048);
  EXPECT_FALSE(limit->counts_generation);

  const nlohmann::json vllm = {{"models", {{{"id", "q"}, {"root", "/q"}, {"max_model_len", 32768}}}}};
  EXPECT_EQ(server_kind(vllm), ServerKind::vllm_or_sglang);
  EXPECT_EQ(context_limit(vllm)->tokens, 32768);
  EXPECT_TRUE(context_limit(vllm)->counts_generation);

  const nlohmann::json tgi = {{"info", {{"model_id", "q"}, {"max_input_tokens", 4095}, {"max_total_tokens", 4096}}}};
  EXPECT_EQ(server_kind(tgi), ServerKind::tgi);
  EXPECT_EQ(context_limit(tgi)->tokens, 4095);
  EXPECT_EQ(context_limit(tgi)->total_tokens, 4096);

  const nlohmann::json hosted = {{"models", {{{"id", "gpt-4o"}, {"owned_by", "openai"}}}}};
  EXPECT_EQ(server_kind(hosted), ServerKind::other);
  EXPECT_FALSE(context_limit(hosted));
  EXPECT_FALSE(tokenize_body(ServerKind::other, "m", "x"));
}

TEST(ServerContext, TokenizeInEachServersShape) {
  EXPECT_EQ(nlohmann::json::parse(*tokenize_body(ServerKind::llama_cpp, "m", "안녕")),
            (nlohmann::json{{"content", "안녕"}, {"add_special", true}}));
  EXPECT_EQ(nlohmann::json::parse(*tokenize_body(ServerKind::vllm_or_sglang, "m", "안녕")),
            (nlohmann::json{{"model", "m"}, {"prompt", "안녕"}}));
  EXPECT_EQ(nlohmann::json::parse(*tokenize_body(ServerKind::tgi, "m", "안녕")), (nlohmann::json{{"inputs", "안녕"}}));
  EXPECT_EQ(parse_token_count(ServerKind::llama_cpp, R"({"tokens": [1, 2, 3]})"), 3);
  EXPECT_EQ(parse_token_count(ServerKind::vllm_or_sglang, R"({"count": 7, "max_model_len": 4096, "tokens": [1]})"), 7);
  EXPECT_EQ(parse_token_count(ServerKind::tgi, R"([{"id": 1, "text": "a", "start": 0, "stop": 1}])"), 1);
  EXPECT_FALSE(parse_token_count(ServerKind::tgi, R"({"error": "No fast tokenizer available"})"));
  EXPECT_FALSE(parse_token_count(ServerKind::llama_cpp, "not json"));
}

} // namespace
} // namespace keval
