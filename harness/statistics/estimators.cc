#include "estimators.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "statistics.h"

namespace keval::stats {

namespace {

// The rounded quantile group intervals have used since keval's first results.
constexpr double k_z95_rounded = 1.959964;

std::optional<double> finite(double v) {
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// Never hand NaN or infinity on: an undefined figure is an empty optional.
Estimate only_finite(Estimate e) {
  for (auto* field : {&e.value, &e.stderr_value, &e.ci_low, &e.ci_high})
    if (*field && !std::isfinite(**field)) field->reset();
  return e;
}

} // namespace

double mean_of(const std::vector<double>& values) {
  return values.empty() ? 0.0
                        : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

std::optional<double> sample_sd(const std::vector<double>& values) {
  if (values.size() < 2) return std::nullopt;
  const double m = mean_of(values);
  double ss = 0;
  for (double x : values) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(values.size() - 1));
}

Estimate bootstrap(size_t n, const SubsetStatistic& statistic, std::uint64_t seed) {
  Estimate e;
  e.n = static_cast<long long>(n);
  if (n == 0) return e;
  Indices all(n);
  std::iota(all.begin(), all.end(), size_t{0});
  e.value = statistic(all);
  if (!e.value) return e;
  std::mt19937_64 rng(seed);
  std::vector<double> values;
  values.reserve(k_bootstrap_resamples);
  Indices idx(n);
  for (int r = 0; r < k_bootstrap_resamples; ++r) {
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<size_t>(rng() % n);
    if (auto v = statistic(idx)) values.push_back(*v);
  }
  if (values.size() < 2) return only_finite(e);
  e.stderr_value = sample_sd(values);
  e.ci_low = percentile(values, 0.025);
  e.ci_high = percentile(values, 0.975);
  return only_finite(e);
}

Estimate proportion(const std::vector<double>& values) {
  Estimate e;
  e.n = static_cast<long long>(values.size());
  if (values.empty()) return e;
  const double n = static_cast<double>(values.size());
  const double p = mean_of(values);
  e.value = p;
  e.stderr_value = std::sqrt(std::max(0.0, p * (1 - p)) / n);
  const double z2 = k_z95 * k_z95;
  const double denom = 1 + z2 / n;
  const double centre = (p + z2 / (2 * n)) / denom;
  const double half = k_z95 * std::sqrt(std::max(0.0, p * (1 - p) / n + z2 / (4 * n * n))) / denom;
  e.ci_low = std::max(0.0, centre - half);
  e.ci_high = std::min(1.0, centre + half);
  return only_finite(e);
}

Estimate mean(const std::vector<double>& values, std::uint64_t seed) {
  Estimate e = bootstrap(
      values.size(),
      [&](const Indices& idx) {
        double sum = 0;
        for (size_t i : idx) sum += values[i];
        return std::optional<double>(sum / static_cast<double>(idx.size()));
      },
      seed);
  if (auto sd = sample_sd(values)) e.stderr_value = *sd / std::sqrt(static_cast<double>(values.size()));
  else e.stderr_value.reset();
  return only_finite(e);
}

Estimate combine_independent(const std::vector<Component>& parts) {
  Estimate e;
  double sum = 0, weight = 0, variance = 0;
  bool defined = true;
  for (const auto& part : parts) {
    e.n += part.n;
    if (!part.value) {
      defined = false;
      continue;
    }
    const double se = part.stderr_value.value_or(0.0);
    sum += part.weight * *part.value;
    variance += part.weight * part.weight * se * se;
    weight += part.weight;
  }
  if (!defined || weight <= 0) return e;
  e.value = sum / weight;
  e.stderr_value = std::sqrt(variance) / weight;
  e.ci_low = *e.value - k_z95_rounded * *e.stderr_value;
  e.ci_high = *e.value + k_z95_rounded * *e.stderr_value;
  return only_finite(e);
}

std::optional<double> pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return std::nullopt;
  const double mx = mean_of(x), my = mean_of(y);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return std::nullopt;
  return finite(sxy / std::sqrt(sxx * syy));
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

std::optional<double> f1_from_counts(double tp, double fp, double fn) {
  const double denom = 2 * tp + fp + fn;
  if (denom <= 0) return std::nullopt;
  return 2 * tp / denom;
}

} // namespace keval::stats
