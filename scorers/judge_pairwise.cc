#include "judge_pairwise.h"

#include <fmt/format.h>

#include "error.h"
#include "sha256.h"

namespace keval {
namespace {

constexpr int k_version = 1;

} // namespace

PairwiseProtocol::PairwiseProtocol(const JudgeSpec& spec, const JudgeData& data)
    : m_spec(spec), m_data_sha256(data.sha256) {
  if (spec.protocol != "mt_bench")
    throw InputError(fmt::format("pairwise judging needs a task judged by the mt_bench protocol (this one: {})",
                                 spec.protocol));
  m_prompts = detail::judge_prompts(data, spec.prompts_file,
                                    {"pair-v2", "pair-v2-multi-turn", "pair-math-v1", "pair-math-v1-multi-turn"});
  m_references = detail::reference_answers(data);
}

std::vector<Message> PairwiseProtocol::prompt(const Sample& sample, int turn, const std::vector<std::string>& shown_first,
                                              const std::vector<std::string>& shown_second) const {
  const std::string category = m_spec.category_field.empty() ? "" : detail::field_text(sample.fields, m_spec.category_field);
  const bool reference = std::find(m_spec.reference_categories.begin(), m_spec.reference_categories.end(), category) !=
                         m_spec.reference_categories.end();
  std::string name = reference ? "pair-math-v1" : "pair-v2";
  if (turn > 0) name += "-multi-turn";
  auto at = [](const std::vector<std::string>& v, size_t i) { return i < v.size() ? v[i] : std::string(); };
  std::vector<std::pair<std::string, std::string>> values;
  if (turn == 0)
    values = {{"question", at(sample.turns, 0)}, {"answer_a", at(shown_first, 0)}, {"answer_b", at(shown_second, 0)}};
  else
    values = {{"question_1", at(sample.turns, 0)}, {"question_2", at(sample.turns, 1)},
              {"answer_a_1", at(shown_first, 0)},  {"answer_a_2", at(shown_first, 1)},
              {"answer_b_1", at(shown_second, 0)}, {"answer_b_2", at(shown_second, 1)}};
  if (reference) {
    const auto it = m_references.find(sample.id);
    if (it == m_references.end() || it->second.size() < static_cast<size_t>(turn + 1))
      throw InputError(fmt::format("{}: no reference answer for question {} turn {}", m_spec.references_file, sample.id,
                                   turn + 1));
    values.push_back({"ref_answer_1", it->second[0]});
    if (turn > 0) values.push_back({"ref_answer_2", it->second[1]});
  }
  const auto& [system, pattern] = m_prompts.at(name);
  return {{"system", system}, {"user", detail::format_placeholders(pattern, values)}};
}

nlohmann::json PairwiseProtocol::describe() const {
  std::string prompt_text;
  for (const auto& [name, p] : m_prompts) prompt_text += name + "\n" + p.first + "\n" + p.second + "\n";
  return {{"protocol", "mt_bench_pairwise"}, {"version", k_version},
          {"prompts_file", m_spec.prompts_file}, {"prompt_sha256", sha256_hex(prompt_text)},
          {"references_file", m_spec.references_file}, {"reference_categories", m_spec.reference_categories},
          {"data_sha256", m_data_sha256}, {"verdict", "[[A]] | [[B]] | [[C]]"}};
}

std::optional<PairVerdict> pair_verdict(std::string_view verdict) {
  // FastChat's order of checks: a verdict naming several is read as the first of A, B, C.
  if (verdict.find("[[A]]") != std::string_view::npos) return PairVerdict::first;
  if (verdict.find("[[B]]") != std::string_view::npos) return PairVerdict::second;
  if (verdict.find("[[C]]") != std::string_view::npos) return PairVerdict::tie;
  return std::nullopt;
}

PairOutcome combine_orders(PairVerdict a_first, PairVerdict b_first) {
  // Map both to model A's view: in the second order, "first" is model B.
  const PairOutcome one = a_first == PairVerdict::first ? PairOutcome::win
                          : a_first == PairVerdict::second ? PairOutcome::loss : PairOutcome::tie;
  const PairOutcome two = b_first == PairVerdict::first ? PairOutcome::loss
                          : b_first == PairVerdict::second ? PairOutcome::win : PairOutcome::tie;
  return one == two ? one : PairOutcome::tie;
}

} // namespace keval
