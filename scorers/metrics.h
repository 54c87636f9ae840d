#pragma once
// Task-level metrics: find a metric declared by a scorer or judge protocol (metric.h) and apply
// its estimator to the stored SampleScores of one task. Failed samples are never passed in (they
// are counted as n_failed elsewhere).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "estimators.h"
#include "metric.h"
#include "scorer.h"

namespace keval {

using MetricEstimate = stats::Estimate;

// Every metric that a registered scorer or judge protocol declares, each once.
const std::vector<const MetricDefinition*>& metric_definitions();
// "judge_score/math" (a metric on one category's samples) finds judge_score. nullptr if unknown.
const MetricDefinition* find_metric(const std::string& name);

// `seed` fixes the bootstrap so the same scores always give the same interval. InputError (with
// "did you mean") for a metric nobody declares.
MetricEstimate aggregate_metric(const std::string& metric, const std::vector<SampleScore>& samples,
                                unsigned long long seed = 20240601);
// The same for a definition in hand (a metric not registered, e.g. in a test).
MetricEstimate aggregate_metric(const MetricDefinition& metric, const std::vector<SampleScore>& samples,
                                unsigned long long seed = 20240601);

// Why `metric` has no value on `samples`, in words for the results table; nullopt when it has
// one or no reason is known. Correlations (pearson, spearman) are undefined on fewer than two
// parsed answers and when the predicted or the gold scores are all equal (a constant has no
// variance to correlate).
std::optional<std::string> why_undefined(const std::string& metric, const std::vector<SampleScore>& samples);

// A metric's value on a multiset of samples chosen by index. aggregate_metric's bootstrap and
// keval compare's paired resampling both evaluate metrics through it, thousands of times, so the
// samples are read once: per-sample values for proportions and means, the declared
// CorpusStatistic for resampled metrics.
class MetricOnSubset {
public:
  MetricOnSubset(std::string metric, const std::vector<SampleScore>& samples);
  std::optional<double> value(const std::vector<size_t>& idx) const;
  size_t size() const { return m_size; }
  // Indices of the samples the metric is defined on (e.g. parsed answers for correlations).
  std::vector<size_t> included() const;
  // For a mean of per-sample values defined on every sample: those values (the metric of any
  // multiset is then their mean, which lets resampling work on paired differences directly).
  const std::vector<double>* per_sample_values() const;

private:
  std::string m_metric;
  size_t m_size = 0;
  const MetricDefinition* m_definition = nullptr;     // nullptr: unknown (value() throws)
  std::unique_ptr<CorpusStatistic> m_statistic;       // resampled metrics
  std::vector<char> m_include;                        // proportions and means: the sample has the value
  std::vector<double> m_x;                            //   and this is it
};

} // namespace keval
