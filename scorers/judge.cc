#include "judge.h"

#include <cmath>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>
#include <utf8proc.h>

#include "normalize.h"
#include "error.h"
#include "text.h"

namespace keval {

const std::vector<std::string> k_judge_penalties = {"none", "hangul_share_sqrt", "sqrt_score_if_not_korean"};

// The judge protocols, one line each: X(NAME) stands for `detail::NAME_judge()`, defined with its
// metrics in scorers/judge_NAME.cc. Adding a protocol is that file and a line here.
#define KEVAL_JUDGE_PROTOCOLS(X) \
  X(logickor)                    \
  X(logickor_keval)              \
  X(mt_bench)

namespace detail {
#define KEVAL_DECLARE_JUDGE(name) const JudgeProtocolDefinition& name##_judge();
KEVAL_JUDGE_PROTOCOLS(KEVAL_DECLARE_JUDGE)
#undef KEVAL_DECLARE_JUDGE
} // namespace detail

const std::vector<const JudgeProtocolDefinition*>& judge_protocol_definitions() {
  static const std::vector<const JudgeProtocolDefinition*> definitions = [] {
#define KEVAL_LIST_JUDGE(name) &detail::name##_judge(),
    std::vector<const JudgeProtocolDefinition*> all = {KEVAL_JUDGE_PROTOCOLS(KEVAL_LIST_JUDGE)};
#undef KEVAL_LIST_JUDGE
    for (size_t i = 0; i < all.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (all[i]->name == all[j]->name)
          throw std::logic_error("judge protocol '" + all[i]->name + "' is registered twice");
    return all;
  }();
  return definitions;
}

std::vector<std::string> judge_protocol_names() {
  std::vector<std::string> names;
  for (const auto* d : judge_protocol_definitions()) names.push_back(d->name);
  return names;
}

std::vector<std::string> judge_metrics(const std::string& protocol) {
  std::vector<std::string> names;
  for (const auto* d : judge_protocol_definitions())
    if (d->name == protocol)
      for (const MetricDefinition* m : d->metrics) names.push_back(m->name);
  return names;
}

bool is_judge_metric(const std::string& metric) {
  for (const auto* d : judge_protocol_definitions())
    for (const MetricDefinition* m : d->metrics)
      if (m->name == metric) return true;
  return false;
}

nlohmann::json judge_failure_score(const nlohmann::json& scorer_score, const std::string& message, size_t turn) {
  nlohmann::json out = scorer_score.is_object() ? scorer_score : nlohmann::json::object();
  out["failure"] = "judge";
  out["message"] = message;
  out["turn"] = turn;
  return out;
}

std::unique_ptr<JudgeProtocol> make_judge_protocol(const JudgeSpec& spec, JudgeData data) {
  for (const auto* d : judge_protocol_definitions())
    if (d->name == spec.protocol) return d->make(spec, std::move(data));
  throw InputError(fmt::format("unknown judge protocol '{}' (known: {})", spec.protocol,
                               text::join(judge_protocol_names(), ", ")));
}

namespace {

// Removes fenced code blocks (``` … ```, an unclosed fence runs to the end) and `inline code`.
std::string without_code(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 3, "```") == 0) {
      const size_t close = s.find("```", i + 3);
      if (close == std::string_view::npos) break;
      i = close + 3;
      continue;
    }
    if (s[i] == '`') {
      const size_t close = s.find('`', i + 1);
      const size_t line_end = s.find('\n', i + 1);
      if (close != std::string_view::npos && (line_end == std::string_view::npos || close < line_end)) {
        i = close + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

std::optional<double> rating_in_range(const std::string& number) {
  double value = 0;
  try {
    value = std::stod(number);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!std::isfinite(value) || value < 0 || value > 10) return std::nullopt;
  return value;
}

// Whether `text` holds a letter of any script (Unicode L*): an answer of digits, symbols and code
// alone has no language to judge.
bool has_letter(std::string_view text) {
  for (char32_t cp : text::decode(text)) {
    const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    if (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) return true;
  }
  return false;
}

} // namespace

double korean_share(std::string_view answer) {
  const std::string prose = without_code(answer);
  const bool any_letter = has_letter(prose);
  return any_letter ? normalize::hangul_share(prose) : 1.0;
}

LanguageDecision detect_korean(std::string_view answer) {
  LanguageDecision d;
  // Structured data (KoMT-Bench's extraction questions ask for JSON) carries keys, not prose.
  if (nlohmann::json::accept(text::trim(answer))) {
    d.why = "json";
    return d;
  }
  const std::string prose = without_code(answer);
  const bool any_letter = has_letter(prose);
  if (!any_letter) {
    d.why = "no_letters";
    return d;
  }
  d.why = "hangul_share";
  d.share = normalize::hangul_share(prose);
  d.korean = d.share >= k_korean_min_share;
  return d;
}

std::optional<double> bracket_rating(std::string_view verdict) {
  // MT-Bench: "[[8]]", falling back to "[8]"; the first match counts.
  static const std::regex doubled(R"(\[\[(\d+\.?\d*)\]\])");
  static const std::regex single(R"(\[(\d+\.?\d*)\])");
  const std::string text(verdict);
  std::smatch m;
  if (std::regex_search(text, m, doubled) || std::regex_search(text, m, single)) return rating_in_range(m[1].str());
  return std::nullopt;
}

std::optional<double> labelled_rating(std::string_view verdict) {
  // LogicKor: the number after "점수:", with markdown emphasis (asterisks) removed first.
  std::string text;
  text.reserve(verdict.size());
  for (char c : verdict)
    if (c != '*') text += c;
  // std::regex reads bytes: the full-width colon (three bytes) is an alternative, not a set member.
  static const std::regex labelled(R"(점수\s*(?::|：)\s*(\d+(\.\d+)?))");
  std::smatch m;
  if (std::regex_search(text, m, labelled)) return rating_in_range(m[1].str());
  return std::nullopt;
}

namespace detail {

std::string field_text(const nlohmann::json& fields, const std::string& key) {
  const auto it = fields.find(key);
  if (it == fields.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

JudgePrompts judge_prompts(const JudgeData& data, const std::string& file, const std::vector<std::string>& required) {
  JudgePrompts out;
  for (const auto& p : data.prompts)
    if (p.is_object() && p.contains("name"))
      out[p.value("name", "")] = {p.value("system_prompt", ""), p.value("prompt_template", "")};
  for (const auto& name : required)
    if (!out.count(name)) throw InputError(fmt::format("{}: no judge prompt named '{}'", file, name));
  return out;
}

std::map<std::string, std::vector<std::string>> reference_answers(const JudgeData& data) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& r : data.references) {
    if (!r.is_object() || !r.contains("choices") || !r.at("choices").is_array() || r.at("choices").empty()) continue;
    std::vector<std::string> turns;
    for (const auto& t : r.at("choices")[0].value("turns", nlohmann::json::array()))
      turns.push_back(t.is_string() ? t.get<std::string>() : t.dump());
    out[field_text(r, "question_id")] = std::move(turns);
  }
  return out;
}

namespace {

// Σ weight·rating / Σ weight over the samples with a rating; the weight is the number of turns the
// sample's rating averages (meta.judge_weights, 1 when absent).
class TurnWeightedMean final : public MarkedCorpusStatistic {
public:
  TurnWeightedMean(const std::vector<SampleScore>& samples, const std::string& metric)
      : MarkedCorpusStatistic(samples.size()), m_rating(samples.size(), 0.0), m_weight(samples.size(), 0.0) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      const auto it = s.values.find(metric);
      if (it == s.values.end() || !std::isfinite(it->second)) continue;
      double weight = 1;
      const auto weights = s.meta.find("judge_weights");
      if (weights != s.meta.end() && weights->is_object() && weights->contains(metric) &&
          weights->at(metric).is_number())
        weight = weights->at(metric).get<double>();
      m_include[i] = 1;
      m_rating[i] = it->second;
      m_weight[i] = weight;
    }
  }

  std::optional<double> value(const std::vector<size_t>& picked) const override {
    double sum = 0, weight = 0;
    for (size_t i : picked)
      if (m_include[i]) {
        sum += m_weight[i] * m_rating[i];
        weight += m_weight[i];
      }
    if (weight <= 0) return std::nullopt;
    return sum / weight;
  }

private:
  std::vector<double> m_rating, m_weight;
};

} // namespace

MetricDefinition turn_weighted_metric(std::string name, std::string description) {
  const std::string metric = name;
  return {std::move(name), std::move(description), Estimator::resampled, true,
          [metric](const std::vector<SampleScore>& s) { return std::make_unique<TurnWeightedMean>(s, metric); }};
}

const MetricDefinition& judge_score_metric() {
  static const MetricDefinition metric =
      turn_weighted_metric("judge_score", "judge's rating (0-10), mean over every counted turn of every sample "
                                          "(FastChat, LogicKor); the task's language rule applied");
  return metric;
}

void set_turn_weight(SampleScore& score, const std::string& metric, size_t turns) {
  score.meta["judge_weights"][metric] = turns;
}

std::string format_placeholders(std::string_view pattern, const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  out.reserve(pattern.size() * 2);
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      i += 2;
      continue;
    }
    if (c == '{') {
      const size_t close = pattern.find('}', i);
      if (close == std::string_view::npos) throw InputError(fmt::format("judge prompt: unclosed '{{' at offset {}", i));
      const std::string name(pattern.substr(i + 1, close - i - 1));
      bool found = false;
      for (const auto& [key, value] : values)
        if (key == name) {
          out += value;
          found = true;
          break;
        }
      if (!found) throw InputError(fmt::format("judge prompt: no value for placeholder '{{{}}}'", name));
      i = close + 1;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

} // namespace detail

} // namespace keval
