#include "statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace keval::stats {
namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

double log_choose(long long n, long long k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

} // namespace

double binomial_half_upper_tail(long long k, long long n) {
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  // Sum in log space from the largest term down, so no term underflows before it matters.
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  double max_log = -std::numeric_limits<double>::infinity();
  std::vector<double> logs;
  logs.reserve(static_cast<size_t>(n - k + 1));
  for (long long i = k; i <= n; ++i) {
    logs.push_back(log_choose(n, i) + log_half_n);
    max_log = std::max(max_log, logs.back());
  }
  double sum = 0;
  for (double l : logs) sum += std::exp(l - max_log);
  return std::min(1.0, std::exp(max_log + std::log(sum)));
}

double mcnemar_exact_p(long long base_only, long long cand_only) {
  const long long n = base_only + cand_only;
  if (n == 0) return 1.0;
  const long long smaller = std::min(base_only, cand_only);
  // P(X <= smaller) = P(X >= n − smaller) by symmetry of Binomial(n, 1/2).
  return std::min(1.0, 2.0 * binomial_half_upper_tail(n - smaller, n));
}

double mcnemar_exact_p_worse(long long base_only, long long cand_only) {
  return binomial_half_upper_tail(base_only, base_only + cand_only);
}

std::vector<double> paired_bootstrap(size_t n, const ResampleStatistic& stat, int resamples, uint64_t seed) {
  std::vector<double> out;
  if (n == 0 || resamples <= 0) return out;
  out.reserve(static_cast<size_t>(resamples));
  std::mt19937_64 rng(seed);
  Indices idx(n);
  for (int r = 0; r < resamples; ++r) {
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<size_t>(rng() % n);
    const auto v = stat(idx);
    out.push_back(v && std::isfinite(*v) ? *v : k_nan);
  }
  return out;
}

std::vector<double> paired_permutation(size_t n, const SwapStatistic& stat, int permutations, uint64_t seed) {
  std::vector<double> out;
  if (n == 0 || permutations <= 0) return out;
  out.reserve(static_cast<size_t>(permutations));
  std::mt19937_64 rng(seed);
  std::vector<char> swapped(n);
  for (int r = 0; r < permutations; ++r) {
    // One 64-bit draw gives 64 coin flips.
    uint64_t bits = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i % 64 == 0) bits = rng();
      swapped[i] = static_cast<char>(bits & 1u);
      bits >>= 1;
    }
    const auto v = stat(swapped);
    out.push_back(v && std::isfinite(*v) ? *v : k_nan);
  }
  return out;
}

std::optional<double> permutation_p_value(double observed, const std::vector<double>& replicates) {
  // A relative tolerance, so replicates equal to the observed value up to rounding count as
  // "at least as extreme" (the usual convention, and what keeps p = 1 for identical runs).
  const double target = std::abs(observed) * (1 - 1e-9) - 1e-12;
  long long defined = 0, extreme = 0;
  for (double r : replicates) {
    if (std::isnan(r)) continue;
    ++defined;
    if (std::abs(r) >= target) ++extreme;
  }
  if (defined == 0) return std::nullopt;
  return static_cast<double>(1 + extreme) / static_cast<double>(1 + defined);
}

std::optional<double> percentile(std::vector<double> values, double q) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  q = std::clamp(q, 0.0, 1.0);
  const double h = (static_cast<double>(values.size()) - 1) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

std::optional<double> fraction_at_least(const std::vector<double>& replicates, double threshold) {
  long long defined = 0, at_least = 0;
  for (double r : replicates) {
    if (std::isnan(r)) continue;
    ++defined;
    if (r >= threshold) ++at_least;
  }
  if (defined == 0) return std::nullopt;
  return static_cast<double>(at_least) / static_cast<double>(defined);
}

uint64_t stratum_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // splitmix64 finaliser: nearby seeds and names give unrelated streams.
  uint64_t z = h ^ (seed + 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

} // namespace keval::stats
