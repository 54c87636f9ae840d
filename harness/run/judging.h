#pragma once
// The judge's side of a sample: the request each turn puts to the judge model, the reminder of
// the verdict's format when a verdict cannot be read, and what a verdict says. The run's dispatch
// stage (dispatch.h) sends these in its stream, stores every attempt and asks an unreadable
// verdict again, up to the protocol's attempts in all; a turn left without a rating is a judge
// failure, which the protocol leaves out (mt_bench) or counts 0 (logickor, as LogicKor's score.py).
// `keval pairwise` asks its own judge requests here too (ask_judge, judge_pairwise).
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "judge.h"
#include "judge_pairwise.h"
#include "progress.h"
#include "store.h"

namespace keval {

// What the judge is sent for a turn: temperature 0, and room for a written evaluation.
inline constexpr int k_judge_max_tokens = 2048;
Request judge_request(const TaskConfig& task, const Sample& sample, int turn, std::vector<Message> messages);

// The request asked again after a verdict that could not be read: the same messages, the last
// one ending with `reminder` (the verdict's required format), so a deterministic judge, which
// would answer the same request the same way, can answer anew.
Request with_format_reminder(Request request, const std::string& reminder);

// What is stored as the request of a judge attempt when the backend has no payload of its own.
nlohmann::json judge_request_json(const Request& r);

// One answer of the judge to one turn, read.
struct VerdictReading {
  std::string status;              // ok | unparsed | failed (as stored in `judgements`)
  std::optional<double> rating;    // status ok
  std::string failure;             // why there is no rating; empty when rated
};
// `attempt` counts the attempts of this process at this turn, from 1: the failure says how many
// were made.
VerdictReading read_verdict(const JudgeProtocol& protocol, const Response& response, int attempt);

// ---- `keval pairwise`: batches through Backend::answer ----

struct JudgePhase {
  Store& store;
  const std::string& run_id;
  Backend& backend;
  const BackendOptions& options;  // the judge's: kind and model key its cache entries
  bool use_cache = true;
  Progress& progress;
  CommitPacer& writes;            // every verdict and cache entry is written through it
};

// Sends judge requests through the phase's backend and cache. A verdict `readable` rejects is
// asked again with `reminder` added (with_format_reminder), `attempts` times in all;
// `on_answer(request, response, readable, round)` sees every answer, cached ones too.
void ask_judge(JudgePhase& phase, std::vector<Request> requests, int attempts, const std::string& reminder,
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
using RunAnswers = std::unordered_map<std::string, std::string>;  // SampleKey::str() -> answer text
PairwiseResult judge_pairwise(JudgePhase& phase, const PairwiseProtocol& protocol, const TaskConfig& task,
                              const std::vector<Sample>& samples, const RunAnswers& a, const RunAnswers& b);

} // namespace keval
