// Scorer `similarity` (STS): reads a number from the answer and compares it with the gold score.
// Options: `min`, `max` (the scale; answers are clamped to it; default 0 and 5) and
// `binary_threshold` (default 3.0: KLUE-STS's binary label is real-label ≥ 3.0).
// Per-sample values: gold_positive (gold ≥ threshold) and, when a number was read,
// predicted_positive. No number → unparsed: excluded from pearson/spearman, wrong in binary_f1.
#include <algorithm>

#include <fmt/format.h>

#include "builtin_scorers.h"
#include "normalize.h"
#include "util/error.h"
#include "util/text.h"

namespace keval::detail {

namespace {

class SimilarityScorer : public Scorer {
public:
  SimilarityScorer(double min, double max, double threshold) : m_min(min), m_max(max), m_threshold(threshold) {}

  SampleScore score(const Sample& sample, const ModelOutput& output) const override {
    SampleScore s;
    s.gold = sample.gold;
    s.gold_number = sample.gold_number;
    if (sample.gold_number) s.values["gold_positive"] = *sample.gold_number >= m_threshold ? 1.0 : 0.0;
    flag_invalid_utf8(output, s);
    std::optional<double> number;
    if (!output.loglikelihood && !output.texts.empty())
      number = normalize::parse_number(text::trim(output.texts.front()));
    if (!number) {
      s.unparsed = true;
      return s;
    }
    const double v = std::clamp(*number, m_min, m_max);
    s.predicted_number = v;
    s.values["predicted_positive"] = v >= m_threshold ? 1.0 : 0.0;
    s.extracted = fmt::format("{}", v);
    return s;
  }

private:
  double m_min;
  double m_max;
  double m_threshold;
};

} // namespace

std::unique_ptr<Scorer> make_similarity_scorer(const nlohmann::json& options) {
  const double min = number_option("similarity", options, "min", 0.0);
  const double max = number_option("similarity", options, "max", 5.0);
  const double threshold = number_option("similarity", options, "binary_threshold", 3.0);
  if (!(min < max)) throw InputError(fmt::format("scorer 'similarity': option min ({}) must be below max ({})", min, max));
  return std::make_unique<SimilarityScorer>(min, max, threshold);
}

} // namespace keval::detail
