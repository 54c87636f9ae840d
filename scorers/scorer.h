#pragma once
// A Scorer maps (sample, model output) to a SampleScore: named per-sample values plus what was
// extracted, kept beside the raw output. Task-level metrics aggregate stored SampleScores
// (metrics.h), so results can be recomputed from the database alone.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "task.h"

namespace keval {

// What the model said for one sample.
struct ModelOutput {
  bool loglikelihood = false;       // true: `logprobs` holds one value per choice
  std::vector<double> logprobs;
  // generation: one text per turn, as the run gives it to scorers and judges (harness answer_text:
  // the <think> block removed unless --keep-think); scorers never strip it again.
  std::vector<std::string> texts;
};

struct SampleScore {
  std::map<std::string, double> values;   // per-sample values, e.g. acc, acc_norm, em, f1
  int predicted = -1;                      // choice index, -1 when none
  std::optional<double> predicted_number;  // numeric answer (STS)
  std::string extracted;                   // what was read from the output, for display
  bool unparsed = false;                   // no answer could be found in the output
  // Copied from the sample so aggregation needs no dataset:
  int gold = -1;
  std::optional<double> gold_number;
  nlohmann::json meta = nlohmann::json::object(); // scorer-specific (KoBBQ context type, exam points)

  nlohmann::json to_json() const;
  static SampleScore from_json(const nlohmann::json& j);
};

class Scorer {
public:
  virtual ~Scorer() = default;
  virtual SampleScore score(const Sample& sample, const ModelOutput& output) const = 0;
};

struct MetricDefinition;  // metric.h

// A scorer as the registry knows it. scorers/NAME.cc defines `detail::NAME_scorer()` returning
// one, with the metrics it produces declared beside it; scorer.cc lists it on one line.
struct ScorerDefinition {
  std::string name;
  std::vector<const MetricDefinition*> metrics;  // what it can produce (a task's `metrics` are a subset)
  std::vector<std::string> options;              // the scorer_options keys it accepts
  std::function<std::unique_ptr<Scorer>(const nlohmann::json& options)> make;
};
const std::vector<const ScorerDefinition*>& scorer_definitions();

// Registry. `options` is the task file's scorer_options. Unknown names or options: InputError
// with "did you mean …".
std::unique_ptr<Scorer> make_scorer(const std::string& name, const nlohmann::json& options);
std::vector<std::string> scorer_names();
// Metrics each scorer can produce (a task's `metrics` must be a subset).
std::vector<std::string> scorer_metrics(const std::string& name);

} // namespace keval
