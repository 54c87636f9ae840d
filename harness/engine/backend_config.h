#pragma once
// A backend's settings, typed, with every default written once: what the command line sets for
// --X and --judge-X, what a run stores of them (never header values) and what --resume reads back.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.h"

namespace keval {

struct BackendConfig {
  // Decides results: stored under "backend" (or "judge") and hashed.
  std::string kind;
  std::string model;                  // informational for embedded backends
  std::vector<std::string> base_urls;
  std::string responses_file;         // replay (stored with its SHA-256)
  std::string command;                // exec
  unsigned long long seed = 1234;     // random
  std::vector<std::string> headers;   // "Name: value" added to every HTTP request (only the names are stored)
  std::optional<int> max_tokens;      // replaces every task's max_tokens when given
  std::optional<double> temperature;  // replaces every task's temperature when given
  // --model-id: pins the identity that keys the response cache when the server reports none
  // that names the model.
  std::string model_id;
  // Prompt log-probs: the shape to ask them in (openai, sglang, tgi; backends/logprob_api.h), or
  // "auto": the probe tries each and the runner then sets the one that answered.
  std::string logprobs_api = "auto";

  // Execution: stored under "execution", not hashed.
  int concurrency = 16;               // requests in flight
  double timeout = 300;               // seconds per request, whole request
  int max_retries = 5;                // attempts after the first
  size_t max_response_bytes = k_default_max_response_bytes;  // an HTTP body or exec line at most
  double rps = 0;                     // requests started per second at most; 0: no limit

  // Not stored. A judge's backend: replay answers from the file's `judge` arrays, and the API
  // key may come from KEVAL_JUDGE_API_KEY first.
  bool judge = false;
  // What the server reported (set by the runner from the probe) or "model-id:" + model_id; it
  // keys the response cache, so two models never share cached answers.
  std::string identity;

  // The stored entry: never header values (often secrets), the responses file's SHA-256.
  nlohmann::json to_json() const;
  // The execution settings as stored (the model's; a judge shares them, --rps aside).
  nlohmann::json execution_json() const;
  // The inverse. `headers` are given again (their values are not stored): a run sent with
  // headers needs them again, and a replay file that changed since is refused (InputError).
  // A missing execution key keeps its default.
  static BackendConfig from_json(const nlohmann::json& entry, const nlohmann::json& execution,
                                 const std::vector<std::string>& headers, bool judge);
  // A judge's execution settings follow the model's: concurrency, timeout, retries and reply
  // size; --rps paces the model's server only.
  void share_execution(const BackendConfig& model);

  bool operator==(const BackendConfig&) const = default;
};

// The older name, kept so that code written against it compiles.
using BackendOptions = BackendConfig;

} // namespace keval
