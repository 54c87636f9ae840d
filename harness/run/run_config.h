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

#include "backend_config.h"
#include "samples.h"
#include "shard.h"
#include "usage.h"

namespace keval {

// The top-level keys of a stored configuration that are left out of the run key.
inline constexpr const char* k_unhashed_config_keys[] = {"execution", "name", "shard", "merged"};

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
using RunOptions = RunConfig;

// The run key: SHA-256 of a stored configuration without k_unhashed_config_keys.
std::string config_hash(const nlohmann::json& config);

} // namespace keval
