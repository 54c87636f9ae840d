// Judge protocol `mt_bench`: KoMT-Bench's single-answer grading, as LG AI Research's FastChat fork
// runs it. Turn 1 is judged with `single-v1` (or `single-math-v1`, with the reference answer, for
// the categories that use references), turn 2 with the `-multi-turn` prompt, which shows the whole
// conversation. The rating is read from "[[N]]" ("[N]" as a fallback). A penalty for answers not in
// Korean may then apply, except for the task's exempt questions: sqrt_score_if_not_korean
// (KoMT-Bench's detector.py rule: sqrt(rating) when the answer is detected as not Korean, by
// detect_korean), hangul_share_sqrt (keval's rule: rating x sqrt(korean_share), also always
// reported as judge_score_hangul_share) or none.
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "judge.h"
#include "normalize.h"
#include "error.h"
#include "sha256.h"

namespace keval::detail {
namespace {

// 2: the language rule decides with detect_korean; a turn without a rating is left out alone.
constexpr int k_version = 2;

class MtBenchProtocol final : public JudgeProtocol {
public:
  MtBenchProtocol(JudgeSpec spec, JudgeData data)
      : m_spec(std::move(spec)), m_data_sha256(data.sha256),
        m_prompts(judge_prompts(data, m_spec.prompts_file,
                                {"single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"})),
        m_references(reference_answers(data)) {}

  std::vector<Message> prompt(const Sample& sample, int turn, const std::vector<std::string>& answers) const override {
    const bool reference = uses_reference(sample);
    std::string name = reference ? "single-math-v1" : "single-v1";
    if (turn > 0) name += "-multi-turn";
    const auto& [system, pattern] = m_prompts.at(name);
    std::vector<std::pair<std::string, std::string>> values;
    auto question = [&](int t) { return t < static_cast<int>(sample.turns.size()) ? sample.turns[static_cast<size_t>(t)] : ""; };
    auto answer = [&](int t) { return t < static_cast<int>(answers.size()) ? answers[static_cast<size_t>(t)] : ""; };
    if (turn == 0) {
      values = {{"question", question(0)}, {"answer", answer(0)}};
    } else {
      values = {{"question_1", question(0)}, {"answer_1", answer(0)}, {"question_2", question(1)}, {"answer_2", answer(1)}};
    }
    if (reference) {
      const auto it = m_references.find(sample.id);
      if (it == m_references.end() || it->second.size() < static_cast<size_t>(turn + 1))
        throw InputError(fmt::format("{}: no reference answer for question {} turn {}", m_spec.references_file,
                                     sample.id, turn + 1));
      values.push_back({"ref_answer_1", it->second[0]});
      if (turn > 0) values.push_back({"ref_answer_2", it->second[1]});
    }
    return {{"system", system}, {"user", format_placeholders(pattern, values)}};
  }

  std::optional<double> rating(std::string_view verdict) const override { return bracket_rating(verdict); }

  // FastChat's show_result: a turn without a rating (-1) is left out, every rated turn counts once,
  // so judge_score pools the turns of all samples (meta.judge_weights: rated turns).
  void score(const Sample& sample, const std::vector<std::string>& answers, const std::vector<TurnVerdict>& verdicts,
             SampleScore& out) const override {
    const bool exempt = std::find(m_spec.penalty_exempt.begin(), m_spec.penalty_exempt.end(), sample.id) !=
                        m_spec.penalty_exempt.end();
    double raw_sum = 0, penalised_sum = 0, hangul_sum = 0;
    size_t rated = 0;
    nlohmann::json shares = nlohmann::json::array(), languages = nlohmann::json::array(),
                   ratings = nlohmann::json::array();
    for (size_t t = 0; t < verdicts.size(); ++t) {
      const std::string& answer = t < answers.size() ? answers[t] : std::string();
      const double share = korean_share(answer);
      const LanguageDecision language = detect_korean(answer);
      shares.push_back(share);
      languages.push_back(language.korean ? "ko" : "not_ko");
      if (!verdicts[t].rating) {
        ratings.push_back(nullptr);
        continue;
      }
      const double rating = *verdicts[t].rating;
      ratings.push_back(rating);
      double penalised = rating;
      if (!exempt && m_spec.penalty == "hangul_share_sqrt") penalised = rating * std::sqrt(share);
      else if (!exempt && m_spec.penalty == "sqrt_score_if_not_korean" && !language.korean) penalised = std::sqrt(rating);
      raw_sum += rating;
      penalised_sum += penalised;
      hangul_sum += exempt ? rating : rating * std::sqrt(share);
      ++rated;
      if (t < 2) out.values[t == 0 ? "judge_turn1" : "judge_turn2"] = penalised;
    }
    if (rated > 0) {
      const auto n = static_cast<double>(rated);
      out.values["judge_score"] = penalised_sum / n;
      out.values["judge_score_no_penalty"] = raw_sum / n;
      out.values["judge_score_hangul_share"] = hangul_sum / n;
      for (const char* metric : {"judge_score", "judge_score_no_penalty", "judge_score_hangul_share"})
        set_turn_weight(out, metric, rated);
    }
    out.meta["ratings"] = ratings;
    out.meta["korean_share"] = shares;
    out.meta["language"] = languages;
    if (exempt) out.meta["penalty_exempt"] = true;
    if (!m_spec.category_field.empty()) out.meta["category"] = field_text(sample.fields, m_spec.category_field);
  }

  // FastChat asks once per turn and records -1 for an unreadable verdict (`--resume` asks again).
  int attempts() const override { return 1; }
  // FastChat's own wording of the format, from its single-answer judge prompts.
  std::string format_reminder() const override {
    return "Please rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for "
           "example: \"Rating: [[5]]\".";
  }

  nlohmann::json describe() const override {
    std::string prompt_text;
    for (const auto& [name, p] : m_prompts) prompt_text += name + "\n" + p.first + "\n" + p.second + "\n";
    return {{"protocol", "mt_bench"},
            {"version", k_version},
            {"prompts_file", m_spec.prompts_file},
            {"prompt_sha256", sha256_hex(prompt_text)},
            {"references_file", m_spec.references_file},
            {"reference_categories", m_spec.reference_categories},
            {"data_sha256", m_data_sha256},
            {"penalty", m_spec.penalty},
            {"penalty_exempt", m_spec.penalty_exempt},
            {"language_rule", fmt::format("detect_korean: JSON or no letters, else Hangul share >= {}", k_korean_min_share)},
            {"verdict", "[[N]]"},
            {"attempts", attempts()}};
  }

  std::vector<std::string> breakdown_metrics() const override {
    if (m_spec.category_field.empty()) return {};
    return {"judge_score"};
  }

private:
  bool uses_reference(const Sample& sample) const {
    if (m_spec.category_field.empty()) return false;
    const std::string category = field_text(sample.fields, m_spec.category_field);
    return std::find(m_spec.reference_categories.begin(), m_spec.reference_categories.end(), category) !=
           m_spec.reference_categories.end();
  }

  JudgeSpec m_spec;
  std::string m_data_sha256;
  JudgePrompts m_prompts;
  std::map<std::string, std::vector<std::string>> m_references;  // question id -> reference turns
};

} // namespace

std::unique_ptr<JudgeProtocol> make_mt_bench_protocol(const JudgeSpec& spec, JudgeData data) {
  return std::make_unique<MtBenchProtocol>(spec, std::move(data));
}

const JudgeProtocolDefinition& mt_bench_judge() {
  static const MetricDefinition no_penalty = turn_weighted_metric(
      "judge_score_no_penalty", "judge's rating (0-10), mean over every rated turn, without the non-Korean penalty");
  static const MetricDefinition hangul_share = turn_weighted_metric(
      "judge_score_hangul_share", "judge's rating x sqrt(share of Hangul letters) (keval's rule), mean over every rated turn");
  static const MetricDefinition turn1{
      "judge_turn1", "judge's rating of the first turn (0-10, penalty applied), mean over samples", Estimator::mean};
  static const MetricDefinition turn2{
      "judge_turn2", "judge's rating of the second turn (0-10, penalty applied), mean over samples", Estimator::mean};
  static const JudgeProtocolDefinition protocol{
      "mt_bench", {&judge_score_metric(), &no_penalty, &hangul_share, &turn1, &turn2}, make_mt_bench_protocol};
  return protocol;
}

} // namespace keval::detail
