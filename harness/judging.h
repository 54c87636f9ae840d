#pragma once
// The judge phase of a dialogue task: once a sample's answers are stored, each turn is put to the
// judge model through any Backend (so the same engine, cache and resume as the model's), every
// verdict is stored, and the rating read from it. A verdict with no readable rating is asked again,
// up to the protocol's attempts in all; a turn left without a rating is a judge failure, which the
// protocol leaves out (mt_bench) or counts 0 (logickor, as LogicKor's score.py).
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend.h"
#include "judge.h"
#include "judge_pairwise.h"
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
  CommitPacer& writes;            // every verdict and cache entry is written through it
};

struct TaskVerdicts {
  std::unordered_map<std::string, double> ratings;        // request key "<task>/<id>/<turn>" -> rating
  std::unordered_map<std::string, std::string> failures;  // request key -> why there is no rating
  std::unordered_set<std::string> unreadable;              // request keys answered, but with no readable rating

  // The verdict of one turn of a sample, as a protocol scores it.
  TurnVerdict verdict(const std::string& key) const;
};

// The model's answers to every turn of a sample as the judge sees them; nullopt when a turn has
// no stored answer (the sample failed and is not judged).
using AnswersOf = std::function<std::optional<std::vector<std::string>>(const Sample&)>;

// Judges every turn of every answered sample not yet rated in the store.
TaskVerdicts judge_task(JudgePhase& phase, const JudgeProtocol& protocol, const TaskConfig& task,
                        const std::vector<Sample>& samples, const AnswersOf& answers_of);

// What the judge is sent for a turn: temperature 0, and room for a written evaluation.
inline constexpr int k_judge_max_tokens = 2048;
Request judge_request(const TaskConfig& task, const Sample& sample, int turn, std::vector<Message> messages);

// Sends judge requests through the phase's backend and cache. A verdict `readable` rejects is
// asked again, `attempts` times in all; `on_answer(request, response, readable, round)` sees every
// answer, cached ones too.
void ask_judge(JudgePhase& phase, std::vector<Request> requests, int attempts,
               const std::function<bool(const Response&)>& readable,
               const std::function<void(const Request&, const Response&, bool, int)>& on_answer);

// Pairwise comparison of two runs' answers: win, tie and loss counts for model A, per turn.
struct PairwiseTally {
  long long win = 0, tie = 0, loss = 0;
  long long judge_failed = 0;  // no readable verdict in one of the two orders: left out
  long long n() const { return win + tie + loss; }
};

struct PairwiseResult {
  std::vector<PairwiseTally> turns;  // index: turn
  PairwiseTally overall;
  std::vector<std::string> failures;  // why, for each question and turn left out
};

// Judges every sample both runs answered on every turn, in both orders. A judge replay file's
// `judge` array holds, for each sample: [turn 1 A first, turn 1 B first, turn 2 A first, turn 2 B first].
using RunAnswers = std::unordered_map<std::string, std::string>;  // "<task>/<id>/<turn>" -> answer text
PairwiseResult judge_pairwise(JudgePhase& phase, const PairwiseProtocol& protocol, const TaskConfig& task,
                              const std::vector<Sample>& samples, const RunAnswers& a, const RunAnswers& b);

} // namespace keval
