// Judge protocol `logickor`: LogicKor's evaluator (instructkr/LogicKor evaluator.py) as it judges,
// driven by datasets/logickor/judge_template.json, which holds its system prompts verbatim, the
// user message it builds (parts in order, some only when a reference or the follow-up is there),
// the score pattern and the attempts. Each answer is judged twice: single turn (question 1 and
// its answer) and multi turn (the conversation, ending with the follow-up's answer). Answers are
// stripped of surrounding white space, as LogicKor's generator stores them. A verdict whose score
// cannot be read is asked again, up to the template's attempts in all; one that stays unreadable
// counts 0 (logickor_score, as score.py).
#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "judge.h"
#include "error.h"
#include "sha256.h"
#include "text.h"

namespace keval::detail {

void logickor_score(const JudgeSpec& spec, const Sample& sample, const std::vector<TurnVerdict>& verdicts,
                    SampleScore& out) {
  const size_t turns = std::min<size_t>(verdicts.size(), 2);
  nlohmann::json ratings = nlohmann::json::array();
  for (size_t t = 0; t < turns; ++t) ratings.push_back(verdicts[t].rating ? nlohmann::json(*verdicts[t].rating) : nullptr);
  out.meta["ratings"] = ratings;
  if (!spec.category_field.empty()) out.meta["category"] = field_text(sample.fields, spec.category_field);
  for (size_t t = 0; t < turns; ++t)
    if (!verdicts[t].rating && !verdicts[t].unreadable) return;  // no verdict at all: not scored
  const char* const headline[] = {"judge_single_turn", "judge_multi_turn"};
  const char* const rated_only[] = {"judge_single_turn_rated", "judge_multi_turn_rated"};
  double sum = 0, rated_sum = 0;
  size_t rated = 0;
  for (size_t t = 0; t < turns; ++t) {
    const double value = verdicts[t].rating.value_or(0.0);  // evaluator.py: "Impossible to judge" scores 0.0
    out.values[headline[t]] = value;
    sum += value;
    if (verdicts[t].rating) {
      out.values[rated_only[t]] = value;
      rated_sum += value;
      ++rated;
    }
  }
  if (turns == 0) return;
  out.values["judge_score"] = sum / static_cast<double>(turns);
  set_turn_weight(out, "judge_score", turns);
  if (rated > 0) {
    out.values["judge_score_rated"] = rated_sum / static_cast<double>(rated);
    set_turn_weight(out, "judge_score_rated", rated);
  }
}

namespace {

// 1: LogicKor's evaluator at instructkr/LogicKor 11c3a84, from judge_template.json.
constexpr int k_version = 1;

struct TemplatePart {
  std::string text;
  std::string only_if;  // "", "multi_turn", "reference_1 is not empty", "multi_turn and reference_2 is not empty"
};

class LogicKorProtocol final : public JudgeProtocol {
public:
  LogicKorProtocol(JudgeSpec spec, JudgeData data) : m_spec(std::move(spec)), m_data_sha256(data.sha256) {
    const std::string& file = m_spec.prompts_file;
    if (data.prompts.size() != 1 || !data.prompts[0].is_object())
      throw InputError(fmt::format("{}: expected one JSON object (LogicKor's judge template)", file));
    const nlohmann::json& t = data.prompts[0];
    try {
      m_system_single = t.at("system").at("single_turn").get<std::string>();
      m_system_multi = t.at("system").at("multi_turn").get<std::string>();
      for (const auto& part : t.at("user").at("parts_in_order")) {
        TemplatePart p{part.at("text").get<std::string>(), part.value("only_if", "")};
        static const std::vector<std::string> k_conditions = {"", "multi_turn", "reference_1 is not empty",
                                                              "multi_turn and reference_2 is not empty"};
        if (std::find(k_conditions.begin(), k_conditions.end(), p.only_if) == k_conditions.end())
          throw InputError(fmt::format("{}: user.parts_in_order: unknown condition '{}'", file, p.only_if));
        m_parts.push_back(std::move(p));
      }
      const auto& verdict = t.at("verdict");
      m_remove = verdict.at("remove_before_matching").get<std::string>();
      m_score_pattern_text = verdict.at("score_pattern").get<std::string>();
      m_attempts = verdict.at("attempts").get<int>();
      m_source = t.value("source", "");
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: not a LogicKor judge template: {}", file, e.what()));
    }
    if (m_attempts < 1) throw InputError(fmt::format("{}: verdict.attempts must be 1 or more", file));
    try {
      m_score_pattern = std::regex(m_score_pattern_text);
    } catch (const std::regex_error& e) {
      throw InputError(fmt::format("{}: verdict.score_pattern is not a regular expression: {}", file, e.what()));
    }
  }

  std::vector<Message> prompt(const Sample& sample, int turn, const std::vector<std::string>& answers) const override {
    auto at = [](const std::vector<std::string>& v, int i) { return i < static_cast<int>(v.size()) ? v[static_cast<size_t>(i)] : ""; };
    const bool multi_turn = turn > 0;
    const std::string reference_1 = reference_of(sample, 0), reference_2 = reference_of(sample, 1);
    const std::vector<std::pair<std::string, std::string>> values = {
        {"question_1", at(sample.turns, 0)}, {"reference_1", reference_1}, {"output_1", text::trim(at(answers, 0))},
        {"question_2", at(sample.turns, 1)}, {"reference_2", reference_2}, {"output_2", text::trim(at(answers, 1))}};
    std::string user;
    for (const auto& part : m_parts) {
      bool include = true;
      if (part.only_if == "multi_turn") include = multi_turn;
      else if (part.only_if == "reference_1 is not empty") include = !reference_1.empty();
      else if (part.only_if == "multi_turn and reference_2 is not empty") include = multi_turn && !reference_2.empty();
      if (include) user += format_placeholders(part.text, values);
    }
    return {{"system", multi_turn ? m_system_multi : m_system_single}, {"user", user}};
  }

  std::optional<double> rating(std::string_view verdict) const override {
    std::string text;
    text.reserve(verdict.size());
    for (char c : verdict)
      if (m_remove.find(c) == std::string::npos) text += c;
    std::smatch m;
    if (!std::regex_search(text, m, m_score_pattern)) return std::nullopt;
    try {
      return std::stod(m[1].str());  // float(...) as evaluator.py, no range check
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  void score(const Sample& sample, const std::vector<std::string>&, const std::vector<TurnVerdict>& verdicts,
             SampleScore& out) const override {
    logickor_score(m_spec, sample, verdicts, out);
  }

  int attempts() const override { return m_attempts; }
  // The template's own output format ("# 출력 형식"), as a reminder.
  std::string format_reminder() const override {
    return "반드시 출력 형식을 지켜라. 마지막 줄에 점수를 \"점수: 숫자\" 형식으로 쓴다. 예: 점수: 7";
  }

  nlohmann::json describe() const override {
    std::string parts;
    for (const auto& p : m_parts) parts += p.only_if + "\n" + p.text + "\n";
    return {{"protocol", "logickor"},
            {"version", k_version},
            {"prompts_file", m_spec.prompts_file},
            {"prompt_sha256", sha256_hex(m_system_single + "\n" + m_system_multi + "\n" + parts)},
            {"data_sha256", m_data_sha256},
            {"source", m_source},
            {"references_field", m_spec.references_field},
            {"verdict", m_score_pattern_text},
            {"attempts", m_attempts}};
  }

  std::vector<std::string> breakdown_metrics() const override {
    if (m_spec.category_field.empty()) return {};
    return {"judge_single_turn", "judge_multi_turn"};
  }

private:
  std::string reference_of(const Sample& sample, size_t turn) const {
    if (m_spec.references_field.empty()) return "";
    const auto it = sample.fields.find(m_spec.references_field);
    if (it == sample.fields.end() || !it->is_array() || turn >= it->size()) return "";
    const auto& r = (*it)[turn];
    if (r.is_null()) return "";
    return r.is_string() ? r.get<std::string>() : r.dump();
  }

  JudgeSpec m_spec;
  std::string m_data_sha256;
  std::string m_system_single, m_system_multi;
  std::vector<TemplatePart> m_parts;
  std::string m_remove;
  std::string m_score_pattern_text;
  std::regex m_score_pattern;
  int m_attempts = 5;
  std::string m_source;
};

} // namespace

std::unique_ptr<JudgeProtocol> make_logickor_protocol(const JudgeSpec& spec, JudgeData data) {
  return std::make_unique<LogicKorProtocol>(spec, std::move(data));
}

const std::vector<const MetricDefinition*>& logickor_metrics() {
  static const MetricDefinition single_turn{
      "judge_single_turn", "LogicKor: judge's rating of the first answer (0-10; unreadable verdict 0), mean over samples",
      Estimator::mean};
  static const MetricDefinition multi_turn{
      "judge_multi_turn",
      "LogicKor: judge's rating of the follow-up answer (0-10; unreadable verdict 0), mean over samples", Estimator::mean};
  static const MetricDefinition score_rated = turn_weighted_metric(
      "judge_score_rated", "LogicKor: judge's rating, mean over every turn with a readable verdict (unreadable left out)");
  static const MetricDefinition single_turn_rated{
      "judge_single_turn_rated", "LogicKor: judge_single_turn over readable verdicts only", Estimator::mean};
  static const MetricDefinition multi_turn_rated{
      "judge_multi_turn_rated", "LogicKor: judge_multi_turn over readable verdicts only", Estimator::mean};
  static const std::vector<const MetricDefinition*> metrics = {
      &judge_score_metric(), &single_turn, &multi_turn, &score_rated, &single_turn_rated, &multi_turn_rated};
  return metrics;
}

const JudgeProtocolDefinition& logickor_judge() {
  static const JudgeProtocolDefinition protocol{"logickor", logickor_metrics(), make_logickor_protocol};
  return protocol;
}

} // namespace keval::detail
