#pragma once
// What the runner asks a backend, and what comes back.
#include <optional>
#include <string>
#include <vector>

#include "task.h"

namespace keval {

enum class RequestKind { generate, loglikelihood };

struct Request {
  std::string key;           // unique in a run: "<task>/<sample id>/<turn>"
  RequestKind kind = RequestKind::generate;
  const TaskConfig* task = nullptr;
  const Sample* sample = nullptr;
  int turn = 0;              // dialogue: 0-based turn

  // generate: `messages` for chat endpoints, `prompt` (the same text, flattened) for completions.
  std::vector<Message> messages;
  std::string prompt;
  GenerationSettings generation;

  // loglikelihood: log P(continuation | context) for each continuation. The continuation
  // already starts with the task's target delimiter (usually a space); nothing is inserted.
  std::string context;
  std::vector<std::string> continuations;

  // Backend::cache_payload(*this) when the runner has computed it for the cache key, so a backend
  // whose payload is its exact body sends it without serialising the request again. Empty: not computed.
  std::string payload;
};

// too_large: the reply passed --max-response-bytes (a body or an exec line that never ends).
// context_exceeded: the server refused the prompt as longer than its context (e.g. llama.cpp's
// 400 exceed_context_size_error): neither a retry nor --resume can help; the prompt or the
// server's context size must change.
enum class FailureKind { none, missing, transport, timeout, http_status, malformed, backend, aborted, too_large,
                         context_exceeded };
const char* to_string(FailureKind k);

// The size of one reply (an HTTP body, an exec line) at most, unless --max-response-bytes says
// otherwise. No real completion comes near it: a 16,384-token answer is well under 1 MiB, and an
// echoed prompt with log-probs for every token a few MiB at most.
constexpr size_t k_default_max_response_bytes = 16 * 1024 * 1024;

// Result-style: a failed request is an expected outcome, not an exception.
struct Response {
  FailureKind failure = FailureKind::none;
  std::string message;        // failure message (never contains secrets)
  int http_status = 0;
  std::string text;           // generate: the raw text
  std::vector<double> logprobs; // loglikelihood: one per continuation
  bool from_cache = false;
  std::string cached_from_run;  // from_cache: the run that stored the answer in the cache (empty: unknown)
  // Usage and latency: seconds from the first attempt's start to the last byte (0: not measured,
  // e.g. embedded backends and cached answers), and the tokens the server reported in `usage`
  // (nullopt: it reported none).
  double latency_seconds = 0;
  std::optional<long long> prompt_tokens;
  std::optional<long long> completion_tokens;

  bool ok() const { return failure == FailureKind::none; }
  static Response failed(FailureKind kind, std::string message) {
    Response r;
    r.failure = kind;
    r.message = std::move(message);
    return r;
  }
};

} // namespace keval
