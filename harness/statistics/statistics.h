#pragma once
// Paired tests for comparing two runs on the same samples. Pure functions: no store, no I/O.
//
// A paired comparison has n pairs (one sample scored by both runs). Statistics see a resample
// as index vectors: `Indices` picks pairs, and a swap mask exchanges the two members of a pair.
// Every random draw comes from a seeded std::mt19937_64 taken modulo n, so results are the same
// on every platform and every run.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "estimators.h"

namespace keval::stats {

// P(X >= k) for X ~ Binomial(n, 1/2), exact (log-space sums, so n may be large).
double binomial_half_upper_tail(long long k, long long n);

// Exact McNemar test on the discordant pairs of two right/wrong scorings:
// `base_only` pairs the baseline got right and the candidate wrong, `cand_only` the reverse.
// Two-sided: min(1, 2 · P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2); 1 when b + c = 0.
double mcnemar_exact_p(long long base_only, long long cand_only);
// One-sided: the probability, under "no difference", of at least `base_only` candidate losses
// among the b + c discordant pairs (small values say the candidate is worse).
double mcnemar_exact_p_worse(long long base_only, long long cand_only);

// A statistic of pairs picked by index (with repeats): typically cand − base of a metric.
// nullopt when undefined on that resample.
using ResampleStatistic = std::function<std::optional<double>(const Indices& pairs)>;
// The same statistic with some pairs' members exchanged (swapped[i] for pair i).
using SwapStatistic = std::function<std::optional<double>(const std::vector<char>& swapped)>;

// `resamples` bootstrap replicates over n pairs, drawn with replacement. Undefined replicates
// are NaN, so replicates of several independent strata (tasks) stay aligned and can be combined
// replicate by replicate: that is a bootstrap stratified by stratum.
std::vector<double> paired_bootstrap(size_t n, const ResampleStatistic& stat, int resamples, uint64_t seed);

// `permutations` replicates of the statistic under random swaps of each pair's two members
// (each with probability 1/2): the null distribution of "the runs are exchangeable".
std::vector<double> paired_permutation(size_t n, const SwapStatistic& stat, int permutations, uint64_t seed);

// Two-sided permutation p-value: (1 + #{|r| >= |observed|}) / (1 + R) over defined replicates
// (the +1 counts the observed arrangement, so p is never 0). nullopt without replicates.
std::optional<double> permutation_p_value(double observed, const std::vector<double>& replicates);

// numpy.percentile's default (linear interpolation) over the defined (non-NaN) values; q in [0, 1].
std::optional<double> percentile(std::vector<double> values, double q);

// The fraction of defined replicates >= threshold; nullopt without replicates.
std::optional<double> fraction_at_least(const std::vector<double>& replicates, double threshold);

// A seed for one named stratum, stable across platforms (FNV-1a of the name, mixed with `seed`).
uint64_t stratum_seed(uint64_t seed, const std::string& name);

} // namespace keval::stats
