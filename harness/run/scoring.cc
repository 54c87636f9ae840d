#include "scoring.h"

#include <fmt/format.h>

#include "text.h"

namespace keval {

StoredScore score_sample(const Scorer& scorer, const Sample& sample, const SampleAnswers& answers) {
  StoredScore out;
  out.task = sample.task;
  out.sample_id = sample.id;
  if (answers.failure) {
    out.status = to_string(SampleStatus::failed);
    out.score = {{"failure", answers.failure->kind}, {"message", answers.failure->message}, {"turn", answers.failure->turn}};
    return out;
  }
  ModelOutput output;
  output.loglikelihood = answers.mode == AskMode::loglik;
  if (output.loglikelihood) output.logprobs = answers.logprobs;
  else output.texts = answers.texts;
  SampleScore score = scorer.score(sample, output);
  out.status = to_string(score.unparsed ? SampleStatus::unparsed : SampleStatus::scored);
  out.extracted = score.extracted;
  out.score = score.to_json();
  return out;
}

void add_judgement(const JudgeProtocol& protocol, const Sample& sample, const std::vector<std::string>& texts,
                   const std::vector<JudgedTurn>& turns, StoredScore& out) {
  std::vector<TurnVerdict> verdicts;
  nlohmann::json failed_turns = nlohmann::json::array(), messages = nlohmann::json::array();
  std::vector<std::string> shown;
  for (size_t turn = 0; turn < texts.size(); ++turn) {
    const JudgedTurn judged = turn < turns.size() ? turns[turn] : JudgedTurn{};
    verdicts.push_back(judged.verdict);
    if (judged.verdict.rating) {
      shown.push_back(fmt::format("{:g}", *judged.verdict.rating));
      continue;
    }
    shown.push_back("-");
    failed_turns.push_back(turn);
    messages.push_back(judged.failure.empty() ? "not judged" : judged.failure);
  }
  SampleScore score = SampleScore::from_json(out.score);
  protocol.score(sample, texts, verdicts, score);
  if (!score.values.count("judge_score")) {
    out.status = to_string(SampleStatus::judge_failed);
    out.extracted.clear();
    // The scorer's values stay (hangul_share counts every answered sample).
    out.score = judge_failure_score(out.score, messages.empty() ? "not judged" : messages[0].get<std::string>(),
                                    failed_turns.empty() ? 0 : failed_turns[0].get<size_t>());
    return;
  }
  if (!failed_turns.empty()) {
    score.meta["judge_failed_turns"] = failed_turns;
    score.meta["judge_failures"] = messages;
  }
  out.score = score.to_json();
  out.extracted = "judge " + text::join(shown, ", ");
}

bool judge_failed(const StoredScore& score) {
  return parse_sample_status(score.status) == SampleStatus::judge_failed ||
         score.score.value("meta", nlohmann::json::object()).contains("judge_failed_turns");
}

} // namespace keval
