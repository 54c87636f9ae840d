#pragma once
// The scoring stage: pure functions from a sample and what the model (and the judge) gave to the
// score that is stored. No backend, no store: the dispatch stage calls them as each sample's last
// answer or verdict arrives.
#include <optional>
#include <string>
#include <vector>

#include "judge.h"
#include "scorer.h"
#include "status.h"
#include "store.h"

namespace keval {

// Why a sample has no usable answer: the first turn without one.
struct SampleFailure {
  int turn = 0;
  std::string kind = "missing";  // to_string(FailureKind), or "missing" when nothing was stored
  std::string message = "no response stored";
};

// What the model gave for a sample: every turn's answer (texts as answer_text() gives them, or
// the log-probs of each choice), or the failure of the first turn without one.
struct SampleAnswers {
  AskMode mode = AskMode::generate;
  std::vector<double> logprobs;        // loglik
  std::vector<std::string> texts;      // generate, dialogue: one a turn
  std::optional<SampleFailure> failure;
};

// Scores one sample; status failed (never a wrong answer) when a turn has no usable answer.
StoredScore score_sample(const Scorer& scorer, const Sample& sample, const SampleAnswers& answers);

// The judge's outcome for one turn of a sample.
struct JudgedTurn {
  TurnVerdict verdict;
  std::string failure;  // why there is no rating ("" when rated)
};

// Adds the judge's verdicts of a sample to its score. A turn without a rating is a judge failure:
// the protocol leaves it out or counts it 0 (meta.judge_failed_turns lists it, n_judge_failed
// counts the sample); a sample the protocol cannot score at all is judge_failed, never a zero.
void add_judgement(const JudgeProtocol& protocol, const Sample& sample, const std::vector<std::string>& texts,
                   const std::vector<JudgedTurn>& turns, StoredScore& out);

// Whether a stored score counts toward n_judge_failed: not rated, or a turn without a rating.
bool judge_failed(const StoredScore& score);

} // namespace keval
