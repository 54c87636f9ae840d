#pragma once
// The evaluation driver, short orchestration over the stages: the plan (make_run_plan), one
// stream of requests over the whole run that stores and scores each sample as its answers arrive
// (dispatch.h, scoring.h, judging.h), then the aggregate (compute_results). A run killed at any
// point resumes from what the database holds.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aggregate.h"
#include "backend.h"
#include "registry.h"
#include "run_config.h"  // RunConfig (RunOptions)
#include "shard.h"
#include "store.h"
#include "usage.h"

namespace keval {

// What a run will send, per task, before anything is sent (`keval run --dry-run`).
struct PlannedTask {
  std::string name;
  std::string mode;              // loglik | generate | dialogue
  size_t samples = 0;            // in this shard
  size_t requests = 0;           // model requests: one a sample, one a turn for dialogue
  size_t max_turns = 0;
  size_t judge_requests = 0;     // one a judged turn (an unreadable verdict is asked again)
  size_t characters = 0;         // Unicode characters of the prompts sent (dialogue: without the model's own answers)
  // Prompt tokens, estimated from the longest prompts the server counted (tokens per character
  // times `characters`); nullopt where the server cannot count (context_check.h).
  std::optional<long long> tokens;
};

// A run fixed before it starts: its configuration (what decides its results), the task versions,
// the run key that equal commands share, and what it will send.
struct RunPlan {
  nlohmann::json config;
  nlohmann::json task_versions = nlohmann::json::object();
  std::string run_key;           // sha256 of the deciding configuration: equal across shards and reruns
  std::vector<PlannedTask> tasks;
  nlohmann::json to_json() const;
};

// Samples a backend that answers from a file (replay) holds no answer for, found before anything
// is asked.
struct MissingAnswers {
  std::string file;
  std::map<std::string, long long> per_task;  // task -> samples without an answer (only tasks that lack some)
  long long total() const;
};

struct RunSummary {
  RunRecord run;
  std::vector<TaskResult> results;
  long long n_failed = 0;              // samples without a usable response
  long long n_judge_failed = 0;        // samples the judge gave no readable verdict for
  MissingAnswers missing_answers;      // the model's replay file
  MissingAnswers missing_verdicts;     // the judge's replay file
};

class Runner {
public:
  Runner(TaskRegistry& registry, Store& store) : m_registry(registry), m_store(store) {}
  RunSummary start(const RunOptions& options);
  // Continues a stored run: no sample whose response is stored is sent again; failed ones are retried.
  // `headers` are given again because their values (often secrets) are never stored.
  RunSummary resume(const std::string& run, bool show_progress, const std::vector<std::string>& headers = {},
                    bool use_cache = true, const std::vector<std::string>& judge_headers = {});

private:
  RunSummary execute(RunRecord run, const RunOptions& options, bool resuming);

  TaskRegistry& m_registry;
  Store& m_store;
};

// Resolves the tasks, checks every template and row, and counts what the run will send; stores
// and sends nothing.
// `probe_servers` false (a dry run) sends the server no request: modes then assume what the
// backend kind offers; it is asked only who it is and to count the longest prompts' tokens.
// Prompts that cannot fit the server's context fail the plan (InputError; context_check.h).
RunPlan make_run_plan(TaskRegistry& registry, const RunOptions& options, bool probe_servers = true);


} // namespace keval
