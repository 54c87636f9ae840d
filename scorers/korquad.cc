// Scorer `korquad`: exact match and character F1 as the official KorQuAD 1.0 script
// (evaluate-v1.0.py) computes them, with NFC first so decomposed Hangul matches. Per-sample
// values em and f1 are in 0..1 (the script reports ×100; keval reports fractions everywhere).
// rouge_l and chrf (text_metrics.h) are computed over characters beside them, for free-text tasks
// whose references are sentences rather than spans.
// The prediction is the first output text without reasoning blocks, trimmed; an empty one is
// unparsed (and scores 0). The score is the maximum over the sample's references.
#include <algorithm>
#include <unordered_map>

#include <utf8proc.h>

#include "builtin_scorers.h"
#include "normalize.h"
#include "text_metrics.h"
#include "text.h"

namespace keval::detail {

namespace {
// Python's str.isspace(), which str.split() uses: Unicode White_Space plus U+001C–001F.
bool python_space(char32_t c) { return text::is_space(c) || (c >= 0x1C && c <= 0x1F); }
} // namespace

// The official normalize_answer: quotes and brackets → space, lower-case, drop ASCII punctuation,
// fold white space. Returns the whitespace-separated tokens as code points.
std::vector<std::u32string> korquad_tokens(std::string_view s) {
  std::u32string lowered;
  for (char32_t c : text::decode(text::nfc(s))) {
    switch (c) {
      case U'\'': case U'"': case U'《': case U'》': case U'<': case U'>': case U'〈': case U'〉':
      case U'(': case U')': case U'‘': case U'’':
        c = U' ';
        break;
      default:
        break;
    }
    if (c == 0x130) {  // Python lower-cases İ to "i̇" (full case mapping)
      lowered += U'i';
      lowered += char32_t{0x307};
      continue;
    }
    lowered += static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  }
  std::vector<std::u32string> tokens;
  std::u32string cur;
  for (char32_t c : lowered) {
    if (c < 0x80 && std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").find(static_cast<char>(c)) !=
                        std::string_view::npos)
      continue;
    if (python_space(c)) {
      if (!cur.empty()) tokens.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

double korquad_exact_match(std::string_view prediction, std::string_view reference) {
  return korquad_tokens(prediction) == korquad_tokens(reference) ? 1.0 : 0.0;
}

double korquad_f1(std::string_view prediction, std::string_view reference) {
  std::u32string pred, ref;
  for (auto& t : korquad_tokens(prediction)) pred += t;
  for (auto& t : korquad_tokens(reference)) ref += t;
  std::unordered_map<char32_t, long> counts;
  for (char32_t c : ref) ++counts[c];
  long same = 0;
  for (char32_t c : pred) {
    auto it = counts.find(c);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(pred.size());
  const double recall = static_cast<double>(same) / static_cast<double>(ref.size());
  return 2 * precision * recall / (precision + recall);
}

namespace {

class KorquadScorer : public Scorer {
public:
  SampleScore score(const Sample& sample, const ModelOutput& output) const override {
    SampleScore s;
    s.gold = sample.gold;
    const std::string prediction =
        output.texts.empty() ? std::string() : text::trim(output.texts.front());
    double em = 0, f1 = 0, rouge_l = 0, chr_f = 0;
    for (const auto& ref : sample.references) {
      em = std::max(em, korquad_exact_match(prediction, ref));
      f1 = std::max(f1, korquad_f1(prediction, ref));
      rouge_l = std::max(rouge_l, rouge_l_chars(prediction, ref));
      chr_f = std::max(chr_f, chrf(prediction, ref));
    }
    s.values["em"] = em;
    s.values["f1"] = f1;
    s.values["rouge_l"] = rouge_l;
    s.values["chrf"] = chr_f;
    flag_invalid_utf8(output, s);
    s.unparsed = prediction.empty();
    // Enough to see what was compared; the raw output is stored beside the score anyway.
    constexpr size_t k_display_chars = 200;
    if (text::char_count(prediction) > k_display_chars) {
      auto cps = text::decode(prediction);
      cps.resize(k_display_chars);
      s.extracted = text::encode(cps) + "…";
    } else {
      s.extracted = prediction;
    }
    return s;
  }
};

} // namespace

std::unique_ptr<Scorer> make_korquad_scorer(const nlohmann::json&) { return std::make_unique<KorquadScorer>(); }

const ScorerDefinition& korquad_scorer() {
  static const MetricDefinition em{"em", "exact match after KorQuAD normalisation", Estimator::proportion};
  static const MetricDefinition f1{"f1", "character-level F1 (KorQuAD 1.0), mean over samples", Estimator::mean};
  static const MetricDefinition rouge_l{
      "rouge_l", "ROUGE-L F-measure over characters (white space removed), mean over samples", Estimator::mean};
  static const MetricDefinition chrf{
      "chrf", "chrF (character 6-grams, beta 2, white space removed; 0..1), mean over samples", Estimator::mean};
  static const ScorerDefinition scorer{"korquad", {&em, &f1, &rouge_l, &chrf}, {}, make_korquad_scorer};
  return scorer;
}

} // namespace keval::detail
