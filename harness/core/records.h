#pragma once
// What a run is and what it produced, as plain data: the store keeps these, the runner and the
// aggregation make them, the reports read them.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "request.h"

namespace keval {

struct RunRecord {
  std::string id;             // content-derived, 12 hex digits
  std::string name;           // unique in a database
  std::string model;
  std::string backend;
  nlohmann::json config;      // the full configuration (never holds secrets)
  std::string config_hash;    // sha256 of the canonical configuration
  std::string keval_version;
  nlohmann::json task_versions = nlohmann::json::object(); // task -> {"version": N, "hash": "…"}
  std::string status;         // running | complete | failed | aborted
  std::string created_at;     // ISO 8601 UTC
  std::string updated_at;
  std::string finished_at;
};

// One stored response (one turn of one sample).
struct StoredResponse {
  std::string task;
  std::string sample_id;
  int turn = 0;
  Response response;
};

// One sample's score, as the scorer serialised it.
struct StoredScore {
  std::string task;
  std::string sample_id;
  std::string status;         // scored | unparsed | failed
  std::string extracted;      // the answer extracted from the response, for display
  nlohmann::json score;       // the scorer's per-sample record
};

// One attempt of the judge at one turn of one sample.
struct StoredJudgement {
  std::string task;
  std::string sample_id;
  int turn = 0;
  int attempt = 0;               // 0, 1, … (an unreadable verdict is asked again)
  std::string status;            // ok | unparsed | failed
  Response response;             // the judge's raw verdict, or its failure
  std::optional<double> rating;  // read from the verdict (status ok)
};

// One (task or group, metric) result of a run.
struct TaskResult {
  std::string task;
  std::string metric;
  std::optional<double> value;   // empty when undefined (e.g. no scored sample)
  std::optional<double> stderr_value;
  std::optional<double> ci_low;
  std::optional<double> ci_high;
  long long n = 0;               // samples scored
  long long n_failed = 0;
  long long n_unparsed = 0;
  long long n_judge_failed = 0;  // samples whose judge verdict could not be had (not scored)
  bool is_group = false;
  std::string aggregation;       // for groups: macro | micro
  std::string undefined_reason;  // not stored: why `value` is empty, when a report found out (explain_undefined_values)
};

} // namespace keval
