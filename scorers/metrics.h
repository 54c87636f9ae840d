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

} // namespace keval
