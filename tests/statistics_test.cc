// Paired tests (reports/statistics): exact values where they are known in closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "statistics.h"

namespace keval::stats {
namespace {

TEST(Statistics, BinomialUpperTailMatchesClosedForms) {
  EXPECT_DOUBLE_EQ(binomial_half_upper_tail(0, 10), 1.0);
  EXPECT_DOUBLE_EQ(binomial_half_upper_tail(11, 10), 0.0);
  EXPECT_NEAR(binomial_half_upper_tail(10, 10), 1.0 / 1024, 1e-15);
  EXPECT_NEAR(binomial_half_upper_tail(9, 10), 11.0 / 1024, 1e-15);
  // Symmetry: P(X >= 6) for n = 10 is 386/1024.
  EXPECT_NEAR(binomial_half_upper_tail(6, 10), 386.0 / 1024, 1e-12);
  // Large n stays finite and sensible: P(X >= n/2) is a little above 1/2.
  const double half = binomial_half_upper_tail(5000, 10000);
  EXPECT_GT(half, 0.5);
  EXPECT_LT(half, 0.51);
}

TEST(Statistics, McNemarExactMatchesScipy) {
  // scipy.stats.binomtest(k, n, 0.5).pvalue (two-sided, symmetric):
  EXPECT_NEAR(mcnemar_exact_p(15, 8), 0.21003961563110352, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(12, 2), 0.012939453125, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(2, 12), 0.012939453125, 1e-12);  // symmetric in its arguments
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 0), 1.0);                // no discordant pair: no evidence
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(5, 5), 1.0);                // capped at 1
  EXPECT_NEAR(mcnemar_exact_p(600, 400), 2.7284641560660184e-10, 1e-15);
  // One-sided, "the candidate is worse": P(X >= 12 | 14) = 106/16384.
  EXPECT_NEAR(mcnemar_exact_p_worse(12, 2), 106.0 / 16384, 1e-15);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p_worse(0, 7), 1.0);
}

TEST(Statistics, PercentileIsNumpyLinear) {
  EXPECT_DOUBLE_EQ(*percentile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(*percentile({4, 3, 2, 1}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(*percentile({NAN, 5, NAN}, 0.9), 5.0);  // undefined replicates are skipped
  EXPECT_FALSE(percentile({NAN}, 0.5));
}

TEST(Statistics, BootstrapIsSeededAndCentredOnTheMeanDifference) {
  // d_i = cand_i − base_i: 30 pairs where the candidate loses 1, 70 where it ties.
  std::vector<double> d(100, 0.0);
  for (size_t i = 0; i < 30; ++i) d[i] = -1;
  auto stat = [&](const Indices& idx) -> std::optional<double> {
    double s = 0;
    for (size_t i : idx) s += d[i];
    return s / static_cast<double>(idx.size());
  };
  auto a = paired_bootstrap(d.size(), stat, 2000, 7);
  auto b = paired_bootstrap(d.size(), stat, 2000, 7);
  auto c = paired_bootstrap(d.size(), stat, 2000, 8);
  ASSERT_EQ(a.size(), 2000u);
  EXPECT_EQ(a, b);  // same seed, same replicates
  EXPECT_NE(a, c);
  const double mean = std::accumulate(a.begin(), a.end(), 0.0) / static_cast<double>(a.size());
  EXPECT_NEAR(mean, -0.30, 0.01);
  // The binomial standard error is sqrt(.3 · .7 / 100) = 0.0458: the 95% interval is about ±0.09.
  EXPECT_NEAR(*percentile(a, 0.025), -0.39, 0.03);
  EXPECT_NEAR(*percentile(a, 0.975), -0.21, 0.03);
  EXPECT_NEAR(*fraction_at_least(a, -0.30), 0.5, 0.1);
}

TEST(Statistics, PermutationPValue) {
  // Every pair favours the baseline by 1: swapping signs almost never reaches −1.
  std::vector<double> d(40, -1.0);
  auto stat = [&](const std::vector<char>& swapped) -> std::optional<double> {
    double s = 0;
    for (size_t i = 0; i < d.size(); ++i) s += swapped[i] ? -d[i] : d[i];
    return s / static_cast<double>(d.size());
  };
  auto reps = paired_permutation(d.size(), stat, 2000, 3);
  ASSERT_EQ(reps.size(), 2000u);
  const double p = *permutation_p_value(-1.0, reps);
  EXPECT_NEAR(p, 1.0 / 2001, 1e-12);  // only the observed arrangement is as extreme
  // No difference at all: p = 1.
  std::vector<double> zero(2000, 0.0);
  EXPECT_DOUBLE_EQ(*permutation_p_value(0.0, zero), 1.0);
  // Undefined replicates do not count.
  EXPECT_FALSE(permutation_p_value(0.5, {NAN, NAN}));
}

TEST(Statistics, StratumSeedsAreStableAndDistinct) {
  EXPECT_EQ(stratum_seed(1, "kobest_copa"), stratum_seed(1, "kobest_copa"));
  EXPECT_NE(stratum_seed(1, "kobest_copa"), stratum_seed(1, "kobest_boolq"));
  EXPECT_NE(stratum_seed(1, "kobest_copa"), stratum_seed(2, "kobest_copa"));
}

} // namespace
} // namespace keval::stats
