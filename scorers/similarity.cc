// Scorer `similarity` (STS): reads a number from the answer and compares it with the gold score.
// Options: `min`, `max` (the scale; answers are clamped to it; default 0 and 5) and
// `binary_threshold` (default 3.0: KLUE-STS's binary label is real-label ≥ 3.0).
// Per-sample values: gold_positive (gold ≥ threshold) and, when a number was read,
// predicted_positive. No number → unparsed: excluded from pearson/spearman, wrong in binary_f1.
#include <algorithm>

#include <fmt/format.h>

#include "builtin_scorers.h"
#include "estimators.h"
#include "normalize.h"
#include "error.h"
#include "text.h"

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

namespace {

// Pearson (or Spearman: Pearson of average ranks) correlation of predicted and gold scores, over
// the parsed answers.
class Correlation final : public MarkedCorpusStatistic {
public:
  Correlation(const std::vector<SampleScore>& samples, bool ranks)
      : MarkedCorpusStatistic(samples.size()), m_ranks(ranks), m_predicted(samples.size(), 0.0),
        m_gold(samples.size(), 0.0) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      if (!s.predicted_number || !s.gold_number) continue;
      m_include[i] = 1;
      m_predicted[i] = *s.predicted_number;
      m_gold[i] = *s.gold_number;
    }
  }

  std::optional<double> value(const std::vector<size_t>& picked) const override {
    std::vector<double> a, b;
    a.reserve(picked.size());
    b.reserve(picked.size());
    for (size_t i : picked)
      if (m_include[i]) {
        a.push_back(m_predicted[i]);
        b.push_back(m_gold[i]);
      }
    return m_ranks ? stats::pearson(stats::average_ranks(a), stats::average_ranks(b)) : stats::pearson(a, b);
  }

private:
  bool m_ranks;
  std::vector<double> m_predicted, m_gold;
};

// F1 of the positive class (score >= threshold); an unparsed answer is the wrong class.
class BinaryF1 final : public MarkedCorpusStatistic {
public:
  explicit BinaryF1(const std::vector<SampleScore>& samples)
      : MarkedCorpusStatistic(samples.size()), m_gold(samples.size(), 0), m_predicted(samples.size(), 0) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      const auto g = s.values.find("gold_positive");
      if (g == s.values.end()) continue;
      const int gold = g->second >= 0.5 ? 1 : 0;
      const auto p = s.values.find("predicted_positive");
      m_include[i] = 1;
      m_gold[i] = gold;
      m_predicted[i] = p == s.values.end() ? 1 - gold : (p->second >= 0.5 ? 1 : 0);
    }
  }

  std::optional<double> value(const std::vector<size_t>& picked) const override {
    double tp = 0, fp = 0, fn = 0;
    bool any = false;
    for (size_t i : picked) {
      if (!m_include[i]) continue;
      any = true;
      if (m_predicted[i] == 1 && m_gold[i] == 1) tp += 1;
      else if (m_predicted[i] == 1) fp += 1;
      else if (m_gold[i] == 1) fn += 1;
    }
    if (!any) return std::nullopt;
    return stats::f1_from_counts(tp, fp, fn);
  }

private:
  std::vector<int> m_gold, m_predicted;
};

} // namespace

const ScorerDefinition& similarity_scorer() {
  static const MetricDefinition pearson{
      "pearson", "Pearson correlation of predicted and gold scores (parsed answers)", Estimator::resampled, true,
      [](const std::vector<SampleScore>& s) { return std::make_unique<Correlation>(s, false); }};
  static const MetricDefinition spearman{
      "spearman", "Spearman rank correlation of predicted and gold scores (parsed answers)", Estimator::resampled, true,
      [](const std::vector<SampleScore>& s) { return std::make_unique<Correlation>(s, true); }};
  static const MetricDefinition binary_f1{
      "binary_f1", "F1 of the positive class (score >= threshold); unparsed answers are wrong", Estimator::resampled,
      true, [](const std::vector<SampleScore>& s) { return std::make_unique<BinaryF1>(s); }};
  static const ScorerDefinition scorer{"similarity",
                                       {&pearson, &spearman, &binary_f1},
                                       {"min", "max", "binary_threshold"},
                                       make_similarity_scorer};
  return scorer;
}

} // namespace keval::detail
