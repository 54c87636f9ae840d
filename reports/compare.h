#pragma once
// Paired comparison of two stored runs: per task and group, the difference cand − base over the
// samples both runs scored, its 95% interval and a p-value.
//
// - Pairs: samples matched by (task, sample_id) in the `scores` table; a sample that failed in
//   either run is left out (unparsed answers stay in: they are wrong answers).
// - Values: each run's metric recomputed on the paired samples only, so diff = cand − base
//   exactly; they differ from `keval results` when some samples failed.
// - Interval: seeded paired bootstrap (resample pairs, recompute both metrics), percentile 95%.
// - p-value: exact McNemar (binomial on the discordant pairs) for right/wrong metrics (acc,
//   acc_norm, em); otherwise a paired permutation test (swap each pair's two scores with
//   probability 1/2, recompute the metric difference), two-sided.
// - Groups: the group's aggregate of its members' paired values (macro: mean of the members;
//   micro: weighted by paired samples). Interval and p-value combine the members' replicates
//   replicate by replicate, which is a bootstrap (and permutation) stratified by task.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics.h"
#include "scorer.h"
#include "statistics.h"
#include "store.h"

namespace keval {

struct CompareOptions {
  int resamples = 2000;               // bootstrap replicates and permutations, each (>= 1000)
  unsigned long long seed = 20240601; // fixes every draw: the same runs always compare the same
};

struct ComparisonRow {
  std::string task;                   // a task or a group
  std::string metric;
  bool is_group = false;
  std::string aggregation;            // groups: macro | micro
  long long n_paired = 0;
  std::optional<double> base;
  std::optional<double> cand;
  std::optional<double> diff;         // cand − base
  std::optional<double> ci_low;       // 95% paired bootstrap interval of diff
  std::optional<double> ci_high;
  std::optional<double> p_value;      // two-sided
  std::string test;                   // mcnemar-exact | permutation | permutation-stratified
  long long base_only = 0;            // right/wrong metrics: pairs only the baseline got right
  long long cand_only = 0;            //                       pairs only the candidate got right
  std::vector<double> replicates;     // bootstrap replicates of diff (NaN: undefined), for the gate
  std::string undefined_reason;       // why base or cand has no value (e.g. a correlation of constant answers)
};

struct Comparison {
  RunRecord base;
  RunRecord cand;
  std::vector<std::string> warnings;   // configuration differences, each naming what differs
  std::vector<std::string> only_in_base;
  std::vector<std::string> only_in_cand;
  std::vector<ComparisonRow> rows;     // tasks in the baseline's order, then groups, innermost first
  int resamples = 0;

  const ComparisonRow* find(const std::string& task, const std::string& metric) const;
};

// Differences between two runs' configurations that make a comparison suspect: task versions
// and hashes (prompt or data changed), how MC items were asked, few-shot, limit, MC mode, judge,
// generation settings (max_tokens, temperature), keval and extractor versions, and any other
// top-level setting. The backend and model are what is being compared: not listed.
std::vector<std::string> config_differences(const RunRecord& base, const RunRecord& cand);

Comparison compare_runs(Store& store, const RunRecord& base, const RunRecord& cand,
                        const CompareOptions& options = {});

std::string format_comparison(const Comparison& c);
nlohmann::json comparison_json(const Comparison& c);

} // namespace keval
