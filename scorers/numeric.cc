// Scorer `numeric`: math-style answers whose gold is a number. The answer is read where models
// put it: the last \boxed{…}, else after the last "####", else after the last answer cue
// ("정답", "답", "answer", "결과") that is followed by a number in its sentence, else the last number
// in the text (reasoning comes first, the result last). Numbers are read by normalize::parse_number:
// "1,000원", "3개", "1.5배", "-3", full-width digits, Sino-Korean numerals ("삼십").
// Options: `tolerance` (absolute, default 1e-6) and `relative_tolerance` (fraction of |gold|,
// default 0); acc = 1 when |predicted − gold| ≤ max(tolerance, relative_tolerance·|gold|).
// The gold is the sample's numeric gold, else its first reference read as a number.
// No number in the answer → unparsed (acc 0).
#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "builtin_scorers.h"
#include "normalize.h"
#include "error.h"
#include "text.h"

namespace keval::detail {

namespace {

// The sentence starting at `pos`: up to a line break or a full stop that is not a decimal point.
std::string_view sentence_at(std::string_view s, size_t pos) {
  size_t end = pos;
  while (end < s.size()) {
    const char c = s[end];
    if (c == '\n') break;
    if (c == '.' && !(end > pos && end + 1 < s.size() && s[end - 1] >= '0' && s[end - 1] <= '9' &&
                      s[end + 1] >= '0' && s[end + 1] <= '9'))
      break;
    ++end;
  }
  return s.substr(pos, end - pos);
}

std::optional<double> cued_number(const std::string& text) {
  if (const size_t box = text.rfind("\\boxed{"); box != std::string::npos) {
    const size_t begin = box + 7;
    const size_t close = text.find('}', begin);
    if (auto v = normalize::parse_number(std::string_view(text).substr(begin, close - begin))) return v;
  }
  if (const size_t hashes = text.rfind("####"); hashes != std::string::npos)
    if (auto v = normalize::parse_number(sentence_at(text, hashes + 4))) return v;
  // ASCII lower-casing only: the only cased cue is "answer", and positions found in `lower` are
  // read back in `text`, so both must keep every byte where it is (Unicode lower-casing changes
  // lengths: "Ⱥ" grows a byte, an invalid byte becomes a 3-byte U+FFFD).
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::optional<double> found;
  size_t found_at = 0;
  for (std::string_view cue : {"정답", "답", "answer", "결과"}) {
    for (size_t pos = lower.find(cue); pos != std::string::npos; pos = lower.find(cue, pos + 1)) {
      if (found && pos < found_at) continue;
      // "대답", "해답" still introduce an answer; "answer" inside a longer ASCII word does not.
      if (cue == "answer" && pos > 0 && std::isalpha(static_cast<unsigned char>(lower[pos - 1]))) continue;
      auto v = normalize::parse_number(sentence_at(text, pos + cue.size()));
      if (v) {
        found = v;
        found_at = pos;
      }
    }
  }
  return found;
}

class NumericScorer : public Scorer {
public:
  NumericScorer(double tolerance, double relative) : m_tolerance(tolerance), m_relative(relative) {}

  SampleScore score(const Sample& sample, const ModelOutput& output) const override {
    SampleScore s;
    s.gold = sample.gold;
    s.gold_number = sample.gold_number;
    if (!s.gold_number && !sample.references.empty()) s.gold_number = normalize::parse_number(sample.references.front());
    if (!s.gold_number)
      throw InputError(fmt::format("task '{}', sample '{}': the numeric scorer needs a numeric gold", sample.task,
                                   sample.id));
    s.values["acc"] = 0.0;
    if (output.loglikelihood || output.texts.empty()) {
      s.unparsed = true;
      return s;
    }
    flag_invalid_utf8(output, s);
    // Lines are kept (parse_number normalises each span itself): a line break ends a sentence.
    const std::string text = text::trim(output.texts.front());
    std::optional<double> number = cued_number(text);
    if (!number) {
      const auto all = normalize::parse_numbers(text);
      if (!all.empty()) number = all.back();
    }
    if (!number) {
      s.unparsed = true;
      return s;
    }
    s.predicted_number = *number;
    s.extracted = fmt::format("{}", *number);
    const double allowed = std::max(m_tolerance, m_relative * std::fabs(*s.gold_number));
    s.values["acc"] = std::fabs(*number - *s.gold_number) <= allowed ? 1.0 : 0.0;
    return s;
  }

private:
  double m_tolerance;
  double m_relative;
};

} // namespace

std::unique_ptr<Scorer> make_numeric_scorer(const nlohmann::json& options) {
  const double tolerance = number_option("numeric", options, "tolerance", 1e-6);
  const double relative = number_option("numeric", options, "relative_tolerance", 0.0);
  if (tolerance < 0 || relative < 0)
    throw InputError("scorer 'numeric': options tolerance and relative_tolerance must not be negative");
  return std::make_unique<NumericScorer>(tolerance, relative);
}

const ScorerDefinition& numeric_scorer() {
  static const ScorerDefinition scorer{
      "numeric", {&accuracy_metric()}, {"tolerance", "relative_tolerance"}, make_numeric_scorer};
  return scorer;
}

} // namespace keval::detail
