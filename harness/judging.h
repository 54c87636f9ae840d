#pragma once
// The judge phase of a dialogue task: once a sample's answers are stored, each turn is put to the
// judge model through any Backend (so the same engine, cache and resume as the model's), every
// verdict is stored, and the rating read from it. A verdict with no readable rating is asked once
// more; if that fails too the turn is a judge failure: never a zero.
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "judge.h"
#include "progress.h"
#include "store.h"

namespace keval {

struct JudgePhase {
  Store& store;
  const std::string& run_id;
  Backend& backend;
  const BackendOptions& options;  // the judge's: kind and model key its cache entries
  bool use_cache = true;
  Progress& progress;
  std::function<void()> stored;   // called after each write (batches the transactions)
};

struct TaskVerdicts {
  std::unordered_map<std::string, double> ratings;        // request key "<task>/<id>/<turn>" -> rating
  std::unordered_map<std::string, std::string> failures;  // request key -> why there is no rating
};

// The model's answers to every turn of a sample as the judge sees them; nullopt when a turn has
// no stored answer (the sample failed and is not judged).
using AnswersOf = std::function<std::optional<std::vector<std::string>>(const Sample&)>;

// Judges every turn of every answered sample not yet rated in the store.
TaskVerdicts judge_task(JudgePhase& phase, const JudgeProtocol& protocol, const TaskConfig& task,
                        const std::vector<Sample>& samples, const AnswersOf& answers_of);

// What the judge is sent for a turn: temperature 0, and room for a written evaluation.
inline constexpr int k_judge_max_tokens = 2048;

} // namespace keval
