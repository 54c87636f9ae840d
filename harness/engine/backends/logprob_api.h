#pragma once
// The shapes in which a server gives the log-probabilities of a prompt's own tokens, each turned
// into log P(continuation | context) for a log-likelihood request:
//  - openai: POST {base}/completions with echo and logprobs (vLLM; the legacy OpenAI format):
//    one request, split at the tokens' text offsets (openai_format.h).
//  - sglang: POST {server}/generate with return_logprob, logprob_start_len 0, max_new_tokens 0:
//    one request whose `text` is [context, context+c1, context+c2, …]; each reply's
//    meta_info.input_token_logprobs is [[logprob, token id, text], …].
//  - tgi: POST {server}/generate with details and decoder_input_details, max_new_tokens 1: one
//    request per text (TGI takes one input at a time), [context, context+c1, …]; each reply's
//    details.prefill is [{id, text, logprob}, …].
// The native shapes give no text offsets, so the context/continuation boundary is where
// lm-evaluation-harness's _encode_pair puts it: the whole text's tokens past as many as the
// context alone has (the runner already moved the context's trailing spaces onto the
// continuation). The first token's log-prob is null (nothing precedes it).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/openai_format.h"
#include "request.h"

namespace keval::openai {

enum class LogprobApi { openai, sglang, tgi };

const char* to_string(LogprobApi api);
// "openai", "sglang", "tgi"; nullopt for anything else ("auto" is the caller's).
std::optional<LogprobApi> parse_logprob_api(std::string_view name);

// Whether the shape's path lies at the server's root (http://h:30000/generate) rather than
// under the base URL (http://h:30000/v1/completions).
bool at_server_root(LogprobApi api);

// One HTTP request of a log-likelihood request: its path (under the base URL or the server
// root, as at_server_root says) and JSON body.
struct LogprobCall {
  std::string path;
  std::string body;
};

// The requests that score every continuation of `r`: one, or for TGI one per text (the context
// first, then context + each continuation).
std::vector<LogprobCall> loglikelihood_calls(LogprobApi api, const Request& r, const PayloadOptions& o);

// The log-probs of the prompt tokens in the reply to call `part` of `r` (TGI), in
// Response::logprobs, the first (null) as NaN; a final Response for the shapes that answer in
// one request (openai, sglang). A reply of another shape is a `malformed` failure.
Response parse_loglikelihood_part(LogprobApi api, std::string_view body, const Request& r, size_t part);

// The final Response from the parts' Responses (all ok), for shapes of several requests.
Response combine_loglikelihood_parts(LogprobApi api, const Request& r, const std::vector<Response>& parts);

// Sums the token log-probs of `whole` past the first `context_tokens` (the first of them may be
// null: NaN); nullopt and `error` when none lies past them or one there is missing.
std::optional<double> sum_past_context(const std::vector<double>& whole, size_t context_tokens, std::string* error);

// Whether a failed reply says the prompt did not fit the server's context: llama.cpp's 400
// exceed_context_size_error, vLLM's "maximum context length", SGLang's "longer than the model's
// context length", TGI's 422 "`inputs` tokens + `max_new_tokens` must be <=" / "`inputs` must
// have less than". Such a failure becomes FailureKind::context_exceeded.
bool says_context_exceeded(int http_status, std::string_view message);
// Marks `r` context_exceeded when says_context_exceeded holds for it.
void classify_context_exceeded(Response& r);

} // namespace keval::openai
