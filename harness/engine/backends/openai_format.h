#pragma once
// The OpenAI-compatible wire format as pure functions: build a request body, parse a reply.
// Kept apart from the transport (as lm-evaluation-harness keeps its API models) so tests
// compare JSON without a network.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "request.h"

namespace keval::openai {

struct PayloadOptions {
  std::string model;
  std::optional<int> max_tokens;     // --max-tokens: replaces each task's max_tokens
  std::optional<double> temperature; // --temperature: replaces each task's temperature
};

// POST {base}/chat/completions for a generate request.
nlohmann::json chat_payload(const Request& r, const PayloadOptions& o);
// POST {base}/completions for a generate request (the flattened prompt).
nlohmann::json completions_payload(const Request& r, const PayloadOptions& o);
// POST {base}/completions scoring every continuation of a sample in one request:
// prompt [context+c1, context+c2, …], echo, logprobs 1, max_tokens 0.
nlohmann::json loglikelihood_payload(const Request& r, const PayloadOptions& o);

// Replies. A reply that is not the expected shape is a `malformed` failure naming what is wrong.
Response parse_chat_response(std::string_view body);
Response parse_completions_response(std::string_view body);
Response parse_loglikelihood_response(std::string_view body, const Request& r);

// The token counts a reply's `usage` object reports ({"prompt_tokens", "completion_tokens"}, as
// vLLM, SGLang, llama.cpp's server and hosted APIs send in chat and completions replies, and in
// a stream's last chunk) into `out`; a count absent or not a non-negative integer stays unset.
// A log-likelihood request's prompt_tokens cover every prompt of the batch.
void read_usage(const nlohmann::json& reply, Response& out);

// log P(continuation | context) from one echoed choice's `logprobs` object
// ({tokens, token_logprobs, text_offset}): the sum of token_logprobs of the tokens whose
// text_offset lies in the continuation (at or past the end of the context, before the end of
// the prompt: a server that generates a token despite max_tokens 0 adds nothing). Offsets are
// bytes (as the OpenAI format says); a server that counts code points instead (Python servers
// count str positions) is recognised from the tokens themselves, and one that sends no usable
// offsets (-1) gets them from the tokens' lengths. The first token's log-prob may be null
// (nothing precedes it); a null inside the continuation is an error. Returns nullopt and sets `error`.
std::optional<double> continuation_logprob(const nlohmann::json& logprobs, std::string_view context,
                                           std::string_view continuation, std::string* error);

} // namespace keval::openai
