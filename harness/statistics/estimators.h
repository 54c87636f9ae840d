#pragma once
// Estimators of one figure from one sample of units, with its uncertainty. Pure functions over
// numbers: which values a metric feeds them is declared with the metric (scorers/metric.h).
// Every random draw comes from a seeded std::mt19937_64 taken modulo n, so an interval is the same
// on every platform and every run.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace keval::stats {

inline constexpr double k_z95 = 1.959963984540054;  // two-sided 95% normal quantile
inline constexpr int k_bootstrap_resamples = 1000;

// Units picked by index, with repeats (a resample).
using Indices = std::vector<size_t>;

// A figure with its uncertainty. Empty optionals where undefined (no unit, zero variance for a
// correlation, …); never NaN or infinity.
struct Estimate {
  std::optional<double> value;
  std::optional<double> stderr_value;
  std::optional<double> ci_low;   // 95% interval
  std::optional<double> ci_high;
  long long n = 0;                // units the figure is computed over
};

// A figure of the units picked by index; nullopt when undefined on them.
using SubsetStatistic = std::function<std::optional<double>(const Indices& picked)>;

// Mean of 0/1 values: binomial stderr and the Wilson score interval.
Estimate proportion(const std::vector<double>& values);

// Mean of values that are not 0/1: stderr from the sample standard deviation (n − 1), interval
// from the seeded percentile bootstrap.
Estimate mean(const std::vector<double>& values, std::uint64_t seed);

// Any figure of n units: its value on all of them, stderr the standard deviation of
// k_bootstrap_resamples seeded resamples, interval their 2.5 and 97.5 percentiles (numpy's linear
// interpolation). Undefined resamples are left out.
Estimate bootstrap(size_t n, const SubsetStatistic& statistic, std::uint64_t seed);

// A figure combined from independent parts (a group's members): the weighted mean of their
// values, stderr sqrt(Σ w²·se²) / Σ w (variances of independent samples add), normal interval.
// Undefined when any part's value is; n is the sum of the parts' n.
struct Component {
  std::optional<double> value;
  std::optional<double> stderr_value;  // missing counts as 0
  double weight = 1;
  long long n = 0;
};
Estimate combine_independent(const std::vector<Component>& parts);

// Building blocks of statistics that are not means (correlations, F1 over a corpus).
double mean_of(const std::vector<double>& values);                    // 0 when empty
std::optional<double> sample_sd(const std::vector<double>& values);   // n − 1; nullopt below 2 values
std::optional<double> pearson(const std::vector<double>& x, const std::vector<double>& y);  // nullopt: < 2 or constant
std::vector<double> average_ranks(const std::vector<double>& values); // 1-based; ties share their mean rank
std::optional<double> f1_from_counts(double tp, double fp, double fn); // nullopt when 2tp + fp + fn = 0

} // namespace keval::stats
