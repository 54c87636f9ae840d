#pragma once
// A metric is declared once, beside the scorer or judge protocol that produces it: its name, what
// it means, and the estimator that turns a task's stored SampleScores into a value with its
// uncertainty. The estimators themselves are generic (harness/statistics/estimators.h); metrics.h finds a
// metric by name and applies its estimator.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scorer.h"

namespace keval {

enum class Estimator {
  proportion,  // mean of the per-sample 0/1 values[name]: Wilson interval
  mean,        // mean of the per-sample values[name]: sample stderr, bootstrap interval
  resampled,   // a statistic of the samples together (F1 over a corpus, a correlation, a weighted
               // mean): its value on the samples, seeded bootstrap over the samples it includes
};

// The statistic of a `resampled` metric, built once over a task's samples so the bootstrap (and
// keval compare's paired resampling) can evaluate it thousands of times cheaply.
class CorpusStatistic {
public:
  virtual ~CorpusStatistic() = default;
  // Indices of the samples the statistic is defined on (e.g. parsed answers for a correlation).
  virtual std::vector<size_t> included() const = 0;
  // Its value on the samples picked by index (repeats allowed; samples not included are
  // ignored); nullopt when undefined on them.
  virtual std::optional<double> value(const std::vector<size_t>& picked) const = 0;
};

// A CorpusStatistic that marks, when built, which samples it includes.
class MarkedCorpusStatistic : public CorpusStatistic {
public:
  std::vector<size_t> included() const override;

protected:
  explicit MarkedCorpusStatistic(size_t samples) : m_include(samples, 0) {}
  std::vector<char> m_include;  // 1: the sample counts for this statistic
};

struct MetricDefinition {
  using StatisticFactory = std::function<std::unique_ptr<CorpusStatistic>(const std::vector<SampleScore>&)>;
  MetricDefinition(std::string name_, std::string description_, Estimator estimator_, bool higher_is_better_ = true,
                   StatisticFactory corpus_statistic_ = {})
      : name(std::move(name_)), description(std::move(description_)), estimator(estimator_),
        higher_is_better(higher_is_better_), corpus_statistic(std::move(corpus_statistic_)) {}

  std::string name;
  std::string description;
  Estimator estimator = Estimator::mean;
  bool higher_is_better = true;
  // Defined only when choices were scored by log-likelihood (acc_norm): not reported for a task
  // run in generation mode, where it would repeat another metric.
  bool loglikelihood_only = false;
  // `resampled` only: builds the statistic over a task's samples (those of one run, or of two
  // runs side by side for a paired comparison).
  StatisticFactory corpus_statistic;
};

} // namespace keval
