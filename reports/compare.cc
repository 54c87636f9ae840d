#include "compare.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "metrics.h"
#include "results_table.h"
#include "status.h"
#include "text.h"

namespace keval {
namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

std::string number(const std::optional<double>& v, int digits = 4) {
  return v ? fmt::format("{:.{}f}", *v, digits) : "-";
}

std::string signed_number(const std::optional<double>& v, int digits = 4) {
  return v ? fmt::format("{:+.{}f}", *v, digits) : "-";
}

std::string p_number(const std::optional<double>& p) {
  if (!p) return "-";
  if (*p < 1e-4) return fmt::format("{:.1e}", *p);
  return fmt::format("{:.4f}", *p);
}

nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

bool is_right_wrong(const std::string& metric) {
  const MetricDefinition* info = find_metric(metric);
  return info && info->estimator == Estimator::proportion;
}

// The statistics of one (task, metric) comparison, before they become a row.
struct PairedStat {
  long long n = 0;
  std::optional<double> base, cand, diff;
  std::vector<double> boot;  // bootstrap replicates of diff
  std::vector<double> perm;  // permutation replicates of diff
};

PairedStat paired_stat(const std::string& task, const std::string& metric, const std::vector<SampleScore>& pairs,
                       size_t n, const CompareOptions& options, ComparisonRow& row) {
  PairedStat st;
  st.n = static_cast<long long>(n);
  MetricOnSubset m(metric, pairs);
  stats::Indices base_idx(n), cand_idx(n);
  for (size_t i = 0; i < n; ++i) {
    base_idx[i] = i;
    cand_idx[i] = n + i;
  }
  st.base = m.value(base_idx);
  st.cand = m.value(cand_idx);
  if (st.base && st.cand) st.diff = *st.cand - *st.base;
  if (n == 0) return st;
  const uint64_t seed = stats::stratum_seed(options.seed, task + "/" + metric);
  if (const std::vector<double>* x = m.per_sample_values()) {
    // A mean: the difference of means is the mean of the paired differences, much cheaper to
    // resample than recomputing both sides.
    std::vector<double> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = (*x)[n + i] - (*x)[i];
    const double size = static_cast<double>(n);
    st.boot = stats::paired_bootstrap(
        n,
        [&](const stats::Indices& idx) -> std::optional<double> {
          double sum = 0;
          for (size_t i : idx) sum += d[i];
          return sum / size;
        },
        options.resamples, seed);
    st.perm = stats::paired_permutation(
        n,
        [&](const std::vector<char>& swapped) -> std::optional<double> {
          double sum = 0;
          for (size_t i = 0; i < n; ++i) sum += swapped[i] ? -d[i] : d[i];
          return sum / size;
        },
        options.resamples, seed ^ 0x5bd1e995u);
  } else {
    st.boot = stats::paired_bootstrap(
        n,
        [&](const stats::Indices& idx) -> std::optional<double> {
          for (size_t i = 0; i < n; ++i) {
            base_idx[i] = idx[i];
            cand_idx[i] = idx[i] + n;
          }
          auto b = m.value(base_idx), c = m.value(cand_idx);
          if (!b || !c) return std::nullopt;
          return *c - *b;
        },
        options.resamples, seed);
    st.perm = stats::paired_permutation(
        n,
        [&](const std::vector<char>& swapped) -> std::optional<double> {
          for (size_t i = 0; i < n; ++i) {
            base_idx[i] = swapped[i] ? n + i : i;
            cand_idx[i] = swapped[i] ? i : n + i;
          }
          auto b = m.value(base_idx), c = m.value(cand_idx);
          if (!b || !c) return std::nullopt;
          return *c - *b;
        },
        options.resamples, seed ^ 0x5bd1e995u);
  }

  // Right/wrong metrics get the exact test on the discordant pairs, when every value is 0 or 1.
  bool binary = is_right_wrong(metric);
  long long base_only = 0, cand_only = 0;
  for (size_t i = 0; binary && i < n; ++i) {
    auto b = pairs[i].values.find(metric), c = pairs[n + i].values.find(metric);
    if (b == pairs[i].values.end() || c == pairs[n + i].values.end()) continue;
    const double bv = b->second, cv = c->second;
    if ((bv != 0 && bv != 1) || (cv != 0 && cv != 1)) binary = false;
    else if (bv > cv) ++base_only;
    else if (cv > bv) ++cand_only;
  }
  if (binary) {
    row.test = "mcnemar-exact";
    row.base_only = base_only;
    row.cand_only = cand_only;
    row.p_value = stats::mcnemar_exact_p(base_only, cand_only);
  } else {
    row.test = "permutation";
    if (st.diff) row.p_value = stats::permutation_p_value(*st.diff, st.perm);
  }
  return st;
}

void fill_interval(ComparisonRow& row, const PairedStat& st) {
  row.n_paired = st.n;
  row.base = st.base;
  row.cand = st.cand;
  row.diff = st.diff;
  if (st.diff) {
    row.ci_low = stats::percentile(st.boot, 0.025);
    row.ci_high = stats::percentile(st.boot, 0.975);
  }
  row.replicates = st.boot;
}

// Replicate-by-replicate weighted mean of the members' replicates (NaN when any is NaN).
std::vector<double> combine(const std::vector<const std::vector<double>*>& members, const std::vector<double>& weights) {
  size_t r = members.empty() ? 0 : members.front()->size();
  for (const auto* m : members) r = std::min(r, m->size());
  double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> out(r, k_nan);
  if (total <= 0) return out;
  for (size_t i = 0; i < r; ++i) {
    double sum = 0;
    for (size_t k = 0; k < members.size(); ++k) sum += weights[k] * (*members[k])[i];
    out[i] = sum / total;  // NaN propagates
  }
  return out;
}

std::string short_hash(const std::string& h) { return h.size() > 12 ? h.substr(0, 12) : h; }

std::string json_text(const nlohmann::json& j) { return j.is_null() ? "default" : j.dump(); }

} // namespace

// ---- Comparison ----

const ComparisonRow* Comparison::find(const std::string& task, const std::string& metric) const {
  for (const auto& r : rows)
    if (r.task == task && r.metric == metric) return &r;
  return nullptr;
}

std::vector<std::string> config_differences(const RunRecord& base, const RunRecord& cand) {
  std::vector<std::string> out;
  const nlohmann::json& a = base.config;
  const nlohmann::json& b = cand.config;
  auto field = [&](const char* key, const char* what) {
    const nlohmann::json va = a.contains(key) ? a.at(key) : nlohmann::json(nullptr);
    const nlohmann::json vb = b.contains(key) ? b.at(key) : nlohmann::json(nullptr);
    if (va != vb) out.push_back(fmt::format("{} differs: {} vs {}", what, json_text(va), json_text(vb)));
  };
  field("keval_version", "keval version");
  field("extractor_version", "answer extractor version");
  field("num_fewshot", "num_fewshot");
  field("mc_mode", "mc_mode");
  field("limit", "limit");
  // The judge: which model judges decides scores; where it is served (URLs, a replay file of its
  // verdicts, header names) does not.
  auto judge_of = [](const nlohmann::json& config) {
    nlohmann::json j = config.value("judge", nlohmann::json("none"));
    if (j.is_object())
      for (const char* where : {"responses_file", "responses_sha256", "base_urls", "header_names", "command"}) j.erase(where);
    return j;
  };
  if (judge_of(a) != judge_of(b))
    out.push_back(fmt::format("judge differs: {} vs {}", json_text(judge_of(a)), json_text(judge_of(b))));
  // Who answered: the identity each server reported (or --model-id). Under one model name, a
  // different identity means a different model answered.
  auto identity_of = [](const nlohmann::json& config) {
    const auto b = config.value("backend", nlohmann::json::object());
    return b.is_object() ? b.value("identity", "") : std::string();
  };
  auto model_of = [](const nlohmann::json& config) {
    const auto b = config.value("backend", nlohmann::json::object());
    return b.is_object() ? b.value("model", "") : std::string();
  };
  if (!identity_of(a).empty() && !identity_of(b).empty() && identity_of(a) != identity_of(b))
    out.push_back(model_of(a) == model_of(b)
                      ? fmt::format("answers came from different models under one name '{}': the servers reported "
                                    "identities {} and {}", model_of(a), identity_of(a), identity_of(b))
                      : fmt::format("answers came from different server identities: {} vs {}", identity_of(a), identity_of(b)));
  // Generation settings live with the backend but are not the model being compared.
  for (const char* key : {"max_tokens", "temperature"}) {
    auto get = [&](const nlohmann::json& config) {
      const auto b = config.value("backend", nlohmann::json::object());
      return b.is_object() && b.contains(key) ? b.at(key) : nlohmann::json(nullptr);
    };
    if (get(a) != get(b)) out.push_back(fmt::format("{} differs: {} vs {}", key, json_text(get(a)), json_text(get(b))));
  }
  // Anything else that decides results and is not the thing being compared.
  static const std::set<std::string> k_known = {"keval_version", "extractor_version", "num_fewshot", "mc_mode", "limit",
                                                "judge", "backend", "execution", "name", "requested", "tasks", "groups"};
  std::set<std::string> keys;
  if (a.is_object())
    for (const auto& [k, v] : a.items()) keys.insert(k);
  if (b.is_object())
    for (const auto& [k, v] : b.items()) keys.insert(k);
  for (const auto& k : keys)
    if (!k_known.count(k)) field(k.c_str(), k.c_str());

  std::map<std::string, nlohmann::json> cand_tasks;
  for (const auto& t : b.value("tasks", nlohmann::json::array())) cand_tasks[t.value("name", "")] = t;
  std::vector<std::string> per_task;
  for (const auto& t : a.value("tasks", nlohmann::json::array())) {
    const std::string name = t.value("name", "");
    auto it = cand_tasks.find(name);
    if (it == cand_tasks.end()) continue;
    const nlohmann::json& u = it->second;
    if (t.value("version", nlohmann::json()) != u.value("version", nlohmann::json()))
      per_task.push_back(fmt::format("task {}: version {} vs {}", name, json_text(t.value("version", nlohmann::json())),
                                     json_text(u.value("version", nlohmann::json()))));
    else if (t.value("hash", "") != u.value("hash", ""))
      per_task.push_back(fmt::format("task {}: prompt or data changed (task hash {} vs {})", name,
                                     short_hash(t.value("hash", "")), short_hash(u.value("hash", ""))));
    if (t.value("judge", nlohmann::json()) != u.value("judge", nlohmann::json()))
      per_task.push_back(fmt::format("task {}: judged differently ({} vs {})", name,
                                     json_text(t.value("judge", nlohmann::json())), json_text(u.value("judge", nlohmann::json()))));
    if (t.value("mode", "") != u.value("mode", ""))
      per_task.push_back(fmt::format("task {}: asked by {} vs {}", name, t.value("mode", "?"), u.value("mode", "?")));
  }
  constexpr size_t k_listed = 8;
  for (size_t i = 0; i < per_task.size() && i < k_listed; ++i) out.push_back(per_task[i]);
  if (per_task.size() > k_listed) out.push_back(fmt::format("… and {} more task differences", per_task.size() - k_listed));
  return out;
}

Comparison compare_runs(Store& store, const RunRecord& base, const RunRecord& cand, const CompareOptions& options) {
  Comparison c;
  c.base = base;
  c.cand = cand;
  c.resamples = options.resamples;
  c.warnings = config_differences(base, cand);

  auto by_task = [&](const RunRecord& run) {
    std::unordered_map<std::string, std::vector<StoredScore>> out;
    for (auto& s : store.load_all_scores(run.id))
      if (parse_sample_status(s.status) != SampleStatus::failed) out[s.task].push_back(std::move(s));
    return out;
  };
  auto base_scores = by_task(base);
  auto cand_scores = by_task(cand);

  std::map<std::string, std::vector<std::string>> cand_metrics;
  std::map<std::string, std::string> cand_modes;
  for (const auto& t : cand.config.value("tasks", nlohmann::json::array())) {
    cand_metrics[t.value("name", "")] = t.value("metrics", std::vector<std::string>{});
    cand_modes[t.value("name", "")] = t.value("mode", "loglik");
  }
  std::set<std::string> base_names;
  std::map<std::string, std::map<std::string, PairedStat>> stats_of;  // task -> metric -> stat
  for (const auto& t : base.config.value("tasks", nlohmann::json::array())) {
    const std::string name = t.value("name", "");
    base_names.insert(name);
    auto cm = cand_metrics.find(name);
    if (cm == cand_metrics.end()) {
      c.only_in_base.push_back(name);
      continue;
    }
    // Pair by sample id.
    std::unordered_map<std::string, const StoredScore*> cand_by_id;
    for (const auto& s : cand_scores[name]) cand_by_id[s.sample_id] = &s;
    std::vector<SampleScore> base_side, cand_side;
    for (const auto& s : base_scores[name]) {
      auto it = cand_by_id.find(s.sample_id);
      if (it == cand_by_id.end()) continue;
      base_side.push_back(SampleScore::from_json(s.score));
      cand_side.push_back(SampleScore::from_json(it->second->score));
    }
    const size_t n = base_side.size();
    std::vector<SampleScore> pairs = std::move(base_side);
    pairs.insert(pairs.end(), std::make_move_iterator(cand_side.begin()), std::make_move_iterator(cand_side.end()));
    for (const auto& metric : t.value("metrics", std::vector<std::string>{})) {
      if (std::find(cm->second.begin(), cm->second.end(), metric) == cm->second.end()) continue;
      // acc_norm of a task answered by generation repeats acc: compared only between loglik runs.
      const MetricDefinition* definition = find_metric(metric);
      if (definition && definition->loglikelihood_only &&
          (t.value("mode", "loglik") != "loglik" || cand_modes[name] != "loglik"))
        continue;
      ComparisonRow row;
      row.task = name;
      row.metric = metric;
      PairedStat st = paired_stat(name, metric, pairs, n, options, row);
      fill_interval(row, st);
      std::vector<std::string> why;
      const std::vector<SampleScore> base_half(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(n));
      const std::vector<SampleScore> cand_half(pairs.begin() + static_cast<std::ptrdiff_t>(n), pairs.end());
      if (!row.base)
        if (auto reason = why_undefined(metric, base_half)) why.push_back("baseline: " + *reason);
      if (!row.cand)
        if (auto reason = why_undefined(metric, cand_half)) why.push_back("candidate: " + *reason);
      row.undefined_reason = text::join(why, "; ");
      stats_of[name][metric] = std::move(st);
      c.rows.push_back(std::move(row));
    }
  }
  for (const auto& [name, metrics] : cand_metrics)
    if (!base_names.count(name)) c.only_in_cand.push_back(name);

  // Groups both runs cover, innermost first (a member may itself be a group).
  std::set<std::string> cand_groups;
  for (const auto& g : cand.config.value("groups", nlohmann::json::array())) cand_groups.insert(g.value("name", ""));
  std::vector<nlohmann::json> groups;
  for (const auto& g : base.config.value("groups", nlohmann::json::array()))
    if (cand_groups.count(g.value("name", ""))) groups.push_back(g);
  std::set<std::string> done;
  for (size_t pass = 0; pass <= groups.size() && done.size() < groups.size(); ++pass) {
    for (const auto& g : groups) {
      const std::string name = g.value("name", "");
      if (done.count(name)) continue;
      const auto members = g.value("members", std::vector<std::string>{});
      bool ready = !members.empty();
      for (const auto& m : members) ready = ready && (stats_of.count(m) || done.count(m));
      if (!ready) continue;
      done.insert(name);
      const std::string aggregate = g.value("aggregate", "macro");
      std::map<std::string, size_t> counts;
      for (const auto& m : members)
        for (const auto& [metric, st] : stats_of[m]) counts[metric]++;
      for (const auto& [metric, count] : counts) {
        if (count != members.size()) continue;
        PairedStat gs;
        std::vector<const std::vector<double>*> boots, perms;
        std::vector<double> weights;
        bool defined = true;
        double sum_b = 0, sum_c = 0;
        for (const auto& m : members) {
          const PairedStat& ms = stats_of[m][metric];
          gs.n += ms.n;
          const double w = aggregate == "micro" ? static_cast<double>(ms.n) : 1.0;
          weights.push_back(w);
          boots.push_back(&ms.boot);
          perms.push_back(&ms.perm);
          if (!ms.base || !ms.cand) {
            defined = false;
            continue;
          }
          sum_b += w * *ms.base;
          sum_c += w * *ms.cand;
        }
        const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
        ComparisonRow row;
        row.task = name;
        row.metric = metric;
        row.is_group = true;
        row.aggregation = aggregate;
        row.test = "permutation-stratified";
        if (defined && total > 0) {
          gs.base = sum_b / total;
          gs.cand = sum_c / total;
          gs.diff = *gs.cand - *gs.base;
          gs.boot = combine(boots, weights);
          gs.perm = combine(perms, weights);
          row.p_value = stats::permutation_p_value(*gs.diff, gs.perm);
        }
        fill_interval(row, gs);
        stats_of[name][metric] = std::move(gs);
        c.rows.push_back(std::move(row));
      }
    }
  }
  return c;
}

std::string format_comparison(const Comparison& c) {
  auto describe = [](const RunRecord& r) {
    return fmt::format("{} ({}){}  backend {}  config {}", r.name, r.id, r.model.empty() ? "" : "  model " + r.model,
                       r.backend, short_hash(r.config_hash));
  };
  std::string out = fmt::format("baseline   {}\ncandidate  {}\n", describe(c.base), describe(c.cand));
  for (const auto& w : c.warnings) out += fmt::format("warning: configurations differ: {}\n", w);
  if (!c.only_in_base.empty())
    out += fmt::format("only in the baseline (not compared): {}\n", text::join(c.only_in_base, ", "));
  if (!c.only_in_cand.empty())
    out += fmt::format("only in the candidate (not compared): {}\n", text::join(c.only_in_cand, ", "));
  size_t width = 4;
  for (const auto& r : c.rows) width = std::max(width, text::char_count(r.task) + (r.is_group ? 2 : 0));
  width = std::min<size_t>(width, 48);
  auto pad = [](const std::string& s, size_t w) {
    size_t n = text::char_count(s);
    return n >= w ? s : s + std::string(w - n, ' ');
  };
  out += fmt::format("{} {:<26} {:>6} {:>8} {:>8} {:>8}  {:<19} {:>8}  {}\n", pad("task", width), "metric", "n", "base",
                     "cand", "diff", "95% CI (diff)", "p", "test");
  for (const auto& r : c.rows) {
    std::string name = r.is_group ? "* " + r.task : r.task;
    std::string metric = r.is_group ? fmt::format("{} ({})", r.metric, r.aggregation) : r.metric;
    std::string ci = r.ci_low && r.ci_high ? fmt::format("[{:+.4f}, {:+.4f}]", *r.ci_low, *r.ci_high) : "-";
    std::string test = r.test == "mcnemar-exact" ? fmt::format("mcnemar {}/{}", r.base_only, r.cand_only) : r.test;
    out += fmt::format("{} {:<26} {:>6} {:>8} {:>8} {:>8}  {:<19} {:>8}  {}\n", pad(name, width), metric, r.n_paired,
                       number(r.base), number(r.cand), signed_number(r.diff), ci, p_number(r.p_value), test);
  }
  out += fmt::format("diff = candidate − baseline over the samples both runs scored; 95% CI: paired bootstrap ({} "
                     "resamples); p: two-sided (mcnemar B/C = pairs only the baseline / only the candidate got right)\n",
                     c.resamples);
  for (const auto& r : c.rows)
    if (!r.undefined_reason.empty()) out += fmt::format("{} {}: no value ({})\n", r.task, r.metric, r.undefined_reason);
  return out;
}

nlohmann::json comparison_json(const Comparison& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : c.rows) {
    nlohmann::json j = {{"task", r.task},
                        {"metric", r.metric},
                        {"n_paired", r.n_paired},
                        {"base", optional_json(r.base)},
                        {"cand", optional_json(r.cand)},
                        {"diff", optional_json(r.diff)},
                        {"ci_low", optional_json(r.ci_low)},
                        {"ci_high", optional_json(r.ci_high)},
                        {"p_value", optional_json(r.p_value)},
                        {"test", r.test}};
    if (!r.undefined_reason.empty()) j["undefined_reason"] = r.undefined_reason;
    if (r.test == "mcnemar-exact") {
      j["base_only_right"] = r.base_only;
      j["cand_only_right"] = r.cand_only;
    }
    if (r.is_group) {
      j["group"] = true;
      j["aggregation"] = r.aggregation;
    }
    rows.push_back(std::move(j));
  }
  return {{"baseline", run_json(c.base)},
          {"candidate", run_json(c.cand)},
          {"warnings", c.warnings},
          {"only_in_baseline", c.only_in_base},
          {"only_in_candidate", c.only_in_cand},
          {"resamples", c.resamples},
          {"confidence", 0.95},
          {"tasks", rows}};
}

} // namespace keval
