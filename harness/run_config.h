#pragma once
// A run's configuration, typed: what the command line sets, what a run stores, and what --resume
// reads back, with every default written once (here). The stored JSON has two parts:
//  - what decides results (tasks, sampling, backend and judge identities): hashed into the run key,
//    so the same command gives the same key;
//  - execution settings (concurrency, timeouts, retries, pacing, the failure budget, the cache),
//    the run's name, its shard and a merge record: not hashed, since they never change an answer.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.h"
#include "samples.h"
#include "shard.h"
#include "usage.h"

namespace keval {

// The top-level keys of a stored configuration that are left out of the run key.
inline constexpr const char* k_unhashed_config_keys[] = {"execution", "name", "shard", "merged"};

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

struct RunConfig {
  // Decides results: hashed.
  std::vector<std::string> tasks;      // task and group names, as given
  BackendConfig backend;
  std::optional<BackendConfig> judge;  // judges the dialogue tasks that declare a judge protocol
  std::optional<size_t> limit;         // first N samples of each task
  std::optional<int> num_fewshot;      // overrides each task's default
  std::int64_t fewshot_seed = k_default_fewshot_seed; // seeds each task's few-shot draw (lm-eval's 1234)
  std::string mc_mode = "auto";        // loglik | generate | auto (loglik when the backend can)
  bool keep_think = false;             // score <think>…</think> too (it is always stored)

  // Not hashed: the run's name and shard, execution settings.
  std::string name;                    // empty: generated
  std::optional<ShardSpec> shard;      // evaluate only this shard of the run's samples
  std::string max_failures;            // "N" or "N%" of the run's requests; empty: no limit
  bool use_cache = true;               // answer identical requests from the database's cache
  Prices prices;                       // USD per million tokens: recorded, for the cost
  // Not stored.
  bool show_progress = false;
  size_t commit_every = 1024;          // responses per transaction
  size_t chunk_size = 2048;            // samples built together as the stream needs them

  // The stored configuration as far as the settings fix it; the plan adds the tasks' entries,
  // groups, the shard's counts, the servers' probes and the name.
  nlohmann::json to_json() const;
  // What --resume gives again: the header values, never stored.
  struct Given {
    std::string run;  // the run as named on the command line, for messages
    std::vector<std::string> headers;
    std::vector<std::string> judge_headers;
  };
  // The inverse: the tasks are the stored run's resolved task entries when it has them (else
  // those requested). Throws InputError when the run cannot be rebuilt as it was.
  static RunConfig from_json(const nlohmann::json& config, const Given& given);

  bool operator==(const RunConfig&) const = default;
};

// Older names, kept so that code written against them compiles.
using BackendOptions = BackendConfig;
using RunOptions = RunConfig;

// The run key: SHA-256 of a stored configuration without k_unhashed_config_keys.
std::string config_hash(const nlohmann::json& config);

} // namespace keval
