#pragma once
// The regression gate: "is the candidate worse than the baseline?", as rules over a paired
// comparison (compare.h), for CI.
//
// The rule. d = cand − base on the paired samples; U = the one-sided upper (1 − alpha)
// confidence bound of d (percentile of the paired bootstrap, stratified by task for groups).
// A rule fails when U < −max_drop: the candidate is significantly worse than baseline − max_drop
// (the one-sided test of H0: d >= −max_drop rejects at level alpha). So
//   - clearly equal runs pass (U is near or above 0);
//   - a candidate worse by much more than max_drop, beyond the noise, fails;
//   - a candidate worse by less than max_drop passes (U stays above −max_drop);
//   - a drop that is within the noise passes: the gate flags regressions it can show, and the
//     sample size decides how small a regression it can show.
// A rule also fails when the candidate's value (its stored result over all its scored samples)
// is below `min_value`, or when the metric is undefined on the paired samples.
#include <optional>
#include <string>
#include <vector>

#include "compare.h"

namespace keval {

struct GateRule {
  std::string task;                  // a task or a group
  std::string metric;                // empty in the file: the task's first metric
  double max_drop = 0.0;             // largest acceptable drop, absolute (0.01 = one point of accuracy)
  double alpha = 0.05;               // one-sided significance level
  std::optional<double> min_value;   // floor for the candidate's value
  int line = 0;                      // where the rule starts in the gate file (0: built in)
};

struct GateConfig {
  std::string path;                  // as given, for messages
  double alpha = 0.05;
  std::vector<GateRule> rules;
};

// Reads and checks a gate file; InputError naming file:line for every problem (YAML syntax,
// unknown or duplicate keys, wrong types, alpha outside (0, 0.5], negative max_drop).
GateConfig load_gate_config(const std::string& path);

struct RuleOutcome {
  GateRule rule;
  bool passed = true;
  std::vector<std::string> reasons;  // why it failed
  long long n_paired = 0;
  std::optional<double> base;        // on the paired samples
  std::optional<double> cand;
  std::optional<double> diff;
  std::optional<double> upper_bound; // one-sided (1 − alpha) upper bound of diff
  std::optional<double> p_value;     // one-sided bootstrap p of H0: diff >= −max_drop
  std::optional<double> cand_value;  // the candidate's stored value (for min_value)
};

struct GateReport {
  Comparison comparison;
  std::vector<RuleOutcome> outcomes;
  bool passed = true;
};

// Without a gate file: one rule per top-level entry of the baseline (groups that are no other
// group's member, and tasks in no group), on its first metric, max_drop 0, alpha 0.05 split
// evenly across the rules (Bonferroni), so that many rules do not make a false alarm likely.
GateConfig default_gate_config(const Comparison& comparison);

// Evaluates every rule. InputError (naming the gate file and line) when a rule names a task or
// metric that is not in both runs, or when the runs share no scored sample for it.
GateReport evaluate_gate(const Comparison& comparison, const GateConfig& config,
                         const std::vector<TaskResult>& cand_results);

std::string format_gate_table(const GateReport& report);
std::string gate_markdown(const GateReport& report);
std::string gate_junit(const GateReport& report);

} // namespace keval
