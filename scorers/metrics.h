#pragma once
// Task-level metrics: aggregate the stored SampleScores of one task into a value with its
// uncertainty. Failed samples are never passed in (they are counted as n_failed elsewhere).
#include <optional>
#include <string>
#include <vector>

#include "scorer.h"

namespace keval {

struct MetricEstimate {
  std::optional<double> value;        // empty when undefined (no sample, zero variance for r, …)
  std::optional<double> stderr_value;
  std::optional<double> ci_low;       // 95% interval
  std::optional<double> ci_high;
  long long n = 0;                    // samples the value is computed over
};

struct MetricInfo {
  std::string name;
  std::string description;
  bool higher_is_better = true;
  bool proportion = false;   // a mean of 0/1 values: Wilson interval; otherwise seeded bootstrap
  double chance = -1;        // random-chance baseline when meaningful, else -1
};

// Known metrics (acc, acc_norm, macro_f1, em, f1, pearson, spearman, binary_f1,
// acc_ambiguous, diff_bias_ambiguous, acc_disambiguated, diff_bias_disambiguated,
// exam_points, hangul_share, rouge_l, chrf).
const std::vector<MetricInfo>& metric_infos();
const MetricInfo* find_metric(const std::string& name);

// `seed` fixes the bootstrap so the same scores always give the same interval.
MetricEstimate aggregate_metric(const std::string& metric, const std::vector<SampleScore>& samples,
                                unsigned long long seed = 20240601);

// Why `metric` has no value on `samples`, in words for the results table; nullopt when it has
// one or no reason is known. Correlations (pearson, spearman) are undefined on fewer than two
// parsed answers and when the predicted or the gold scores are all equal (a constant has no
// variance to correlate).
std::optional<std::string> why_undefined(const std::string& metric, const std::vector<SampleScore>& samples);

// A metric's value on a multiset of samples chosen by index. aggregate_metric's bootstrap and
// keval compare's paired resampling both evaluate metrics through it, thousands of times, so the
// samples are read once into flat arrays. A metric it does not know falls back to aggregate_metric.
class MetricOnSubset {
public:
  MetricOnSubset(std::string metric, const std::vector<SampleScore>& samples);
  std::optional<double> value(const std::vector<size_t>& idx) const;
  size_t size() const { return m_include.size(); }
  // Indices of the samples the metric is defined on (e.g. parsed answers for correlations).
  std::vector<size_t> included() const;
  // For a mean of per-sample values defined on every sample: those values (the metric of any
  // multiset is then their mean, which lets resampling work on paired differences directly).
  const std::vector<double>* per_sample_values() const;

private:
  enum class Kind { mean, turn_weighted, macro_f1, pearson, spearman, binary_f1, kobbq_acc, kobbq_diff_ambiguous,
                    kobbq_diff_disambiguated, exam_points, other };
  std::string m_metric;
  std::vector<SampleScore> m_samples;  // kept only for a metric this class does not know
  Kind m_kind = Kind::other;
  std::vector<char> m_include;      // the sample counts for this metric
  std::vector<double> m_x, m_y;     // per-kind numbers (value; predicted/gold; points/earned)
  std::vector<int> m_gold, m_pred;  // classes (gold 1 = KoBBQ gold is the biased answer)
  int m_classes = 0;
};

} // namespace keval
