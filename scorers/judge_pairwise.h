#pragma once
// Pairwise judging (MT-Bench's `pair-v2` protocol, KoMT-Bench's Korean prompts): the judge sees two
// models' answers to one question and names the better one, "[[A]]", "[[B]]" or "[[C]]" for a tie.
// Each question and turn is judged in both orders to cancel the judge's position bias; as in
// FastChat, a model wins only when both orders agree, and disagreement counts as a tie.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "judge.h"

namespace keval {

enum class PairVerdict { first, second, tie };   // first: the answer shown as A
enum class PairOutcome { win, tie, loss };       // for model A of the comparison

class PairwiseProtocol {
public:
  // Needs the task's mt_bench judge files (prompts `pair-v2`, `pair-math-v1` and their -multi-turn forms).
  PairwiseProtocol(const JudgeSpec& spec, const JudgeData& data);
  // The judge's conversation for `turn`, `shown_first` as assistant A and `shown_second` as B.
  std::vector<Message> prompt(const Sample& sample, int turn, const std::vector<std::string>& shown_first,
                              const std::vector<std::string>& shown_second) const;
  nlohmann::json describe() const;

private:
  JudgeSpec m_spec;
  std::string m_data_sha256;
  detail::JudgePrompts m_prompts;
  std::map<std::string, std::vector<std::string>> m_references;          // question id -> reference turns
};

std::optional<PairVerdict> pair_verdict(std::string_view verdict);
// `a_first`: the verdict with model A shown first; `b_first`: with model B shown first.
PairOutcome combine_orders(PairVerdict a_first, PairVerdict b_first);

} // namespace keval
