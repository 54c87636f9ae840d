#include "metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <fmt/format.h>

#include "util/error.h"
#include "util/text.h"

namespace keval {

namespace {

constexpr double k_z95 = 1.959963984540054;  // two-sided 95% normal quantile
constexpr int k_bootstrap_resamples = 1000;

using Indices = std::vector<size_t>;
using Statistic = std::function<std::optional<double>(const Indices&)>;

std::optional<double> finite(double v) {
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Sample standard deviation (n − 1).
std::optional<double> sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return std::nullopt;
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

// numpy.percentile's default (linear interpolation) on sorted data.
double percentile(const std::vector<double>& sorted, double q) {
  const double h = (static_cast<double>(sorted.size()) - 1) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Value on the data plus a seeded percentile bootstrap over `n` units (stderr = sd of the
// resampled values). Indices are drawn as rng() % n, which is the same on every platform.
MetricEstimate bootstrap(size_t n, const Statistic& stat, unsigned long long seed) {
  MetricEstimate e;
  e.n = static_cast<long long>(n);
  if (n == 0) return e;
  Indices all(n);
  std::iota(all.begin(), all.end(), size_t{0});
  e.value = stat(all);
  if (!e.value) return e;
  std::mt19937_64 rng(seed);
  std::vector<double> values;
  values.reserve(k_bootstrap_resamples);
  Indices idx(n);
  for (int r = 0; r < k_bootstrap_resamples; ++r) {
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<size_t>(rng() % n);
    if (auto v = stat(idx)) values.push_back(*v);
  }
  if (values.size() < 2) return e;
  e.stderr_value = sample_sd(values);
  std::sort(values.begin(), values.end());
  e.ci_low = percentile(values, 0.025);
  e.ci_high = percentile(values, 0.975);
  return e;
}

// Mean of 0/1 values: binomial stderr and the Wilson score interval.
MetricEstimate proportion(const std::vector<double>& v) {
  MetricEstimate e;
  e.n = static_cast<long long>(v.size());
  if (v.empty()) return e;
  const double n = static_cast<double>(v.size());
  const double p = mean_of(v);
  e.value = p;
  e.stderr_value = std::sqrt(std::max(0.0, p * (1 - p)) / n);
  const double z2 = k_z95 * k_z95;
  const double denom = 1 + z2 / n;
  const double centre = (p + z2 / (2 * n)) / denom;
  const double half = k_z95 * std::sqrt(std::max(0.0, p * (1 - p) / n + z2 / (4 * n * n))) / denom;
  e.ci_low = std::max(0.0, centre - half);
  e.ci_high = std::min(1.0, centre + half);
  return e;
}

std::vector<double> values_of(const std::vector<SampleScore>& samples, const std::string& key) {
  std::vector<double> out;
  for (const auto& s : samples) {
    const auto it = s.values.find(key);
    if (it != s.values.end() && std::isfinite(it->second)) out.push_back(it->second);
  }
  return out;
}

// Means of a per-sample value that is not 0/1 (f1, hangul_share, judge ratings of one turn).
bool is_plain_mean(const std::string& metric) {
  static const std::set<std::string> k_plain_means = {
      "f1", "hangul_share", "rouge_l", "chrf", "judge_turn1", "judge_turn2", "judge_single_turn", "judge_multi_turn",
      "judge_single_turn_rated", "judge_multi_turn_rated"};
  return k_plain_means.count(metric) > 0;
}

// Judge scores pooled over turns, as FastChat's show_result averages its rows: each sample's value
// is the mean of its counted turns, weighted by their number (meta.judge_weights; 1 when absent).
bool is_turn_weighted(const std::string& metric) {
  static const std::set<std::string> k_turn_weighted = {"judge_score", "judge_score_no_penalty",
                                                         "judge_score_hangul_share", "judge_score_rated"};
  return k_turn_weighted.count(metric) > 0;
}

// (value, weight) of each sample that has the value.
void weighted_values_of(const std::vector<SampleScore>& samples, const std::string& metric, std::vector<double>& x,
                        std::vector<double>& w) {
  for (const auto& s : samples) {
    const auto it = s.values.find(metric);
    if (it == s.values.end() || !std::isfinite(it->second)) continue;
    double weight = 1;
    const auto weights = s.meta.find("judge_weights");
    if (weights != s.meta.end() && weights->is_object() && weights->contains(metric) && weights->at(metric).is_number())
      weight = weights->at(metric).get<double>();
    x.push_back(it->second);
    w.push_back(weight);
  }
}

std::optional<double> weighted_mean(const std::vector<double>& x, const std::vector<double>& w, const Indices& idx) {
  double sum = 0, weight = 0;
  for (size_t i : idx) {
    sum += w[i] * x[i];
    weight += w[i];
  }
  if (weight <= 0) return std::nullopt;
  return sum / weight;
}

// A mean that is not a proportion (f1, hangul_share): sample stderr, bootstrap interval.
MetricEstimate mean_estimate(const std::vector<double>& v, unsigned long long seed) {
  MetricEstimate e = bootstrap(
      v.size(),
      [&](const Indices& idx) {
        double sum = 0;
        for (size_t i : idx) sum += v[i];
        return std::optional<double>(sum / static_cast<double>(idx.size()));
      },
      seed);
  if (auto sd = sample_sd(v)) e.stderr_value = *sd / std::sqrt(static_cast<double>(v.size()));
  else e.stderr_value.reset();
  return e;
}

std::optional<double> pearson_of(const std::vector<double>& x, const std::vector<double>& y) {
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

// 1-based ranks; ties get the average of the ranks they span.
std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

// F1 of one class from counts; undefined when the class never occurs nor is predicted.
std::optional<double> f1_from_counts(double tp, double fp, double fn) {
  const double denom = 2 * tp + fp + fn;
  if (denom <= 0) return std::nullopt;
  return 2 * tp / denom;
}

std::string meta_string(const SampleScore& s, const char* key) {
  const auto it = s.meta.find(key);
  return it != s.meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int meta_int(const SampleScore& s, const char* key) {
  const auto it = s.meta.find(key);
  return it != s.meta.end() && it->is_number_integer() ? it->get<int>() : -1;
}

// A statistic of several samples at once (macro F1, correlations, binary F1, KoBBQ's figures,
// exam points): its value on the samples it is defined on, with a seeded bootstrap over them.
MetricEstimate resampled(const std::string& metric, const std::vector<SampleScore>& samples,
                         unsigned long long seed) {
  const MetricOnSubset statistic(metric, samples);
  const Indices units = statistic.included();
  Indices picked;
  return bootstrap(
      units.size(),
      [&](const Indices& idx) {
        picked.resize(idx.size());
        for (size_t i = 0; i < idx.size(); ++i) picked[i] = units[idx[i]];
        return statistic.value(picked);
      },
      seed);
}

MetricEstimate compute(const std::string& metric, const std::vector<SampleScore>& samples,
                       unsigned long long seed) {
  if (metric == "acc" || metric == "acc_norm" || metric == "em") return proportion(values_of(samples, metric));
  if (is_plain_mean(metric)) return mean_estimate(values_of(samples, metric), seed);
  if (is_turn_weighted(metric)) {
    std::vector<double> x, w;
    weighted_values_of(samples, metric, x, w);
    // stderr and interval from the seeded bootstrap over samples.
    return bootstrap(x.size(), [&](const Indices& idx) { return weighted_mean(x, w, idx); }, seed);
  }

  // KoBBQ's figures leave out unparsed answers, as KoBBQ's own evaluation script does; binary F1
  // counts them wrong; correlations use parsed answers only (see MetricOnSubset).
  static const std::set<std::string> k_resampled = {"macro_f1", "pearson", "spearman", "binary_f1", "acc_ambiguous",
                                                    "diff_bias_ambiguous", "acc_disambiguated",
                                                    "diff_bias_disambiguated", "exam_points"};
  if (k_resampled.count(metric)) return resampled(metric, samples, seed);
  std::vector<std::string> names;
  for (const auto& m : metric_infos()) names.push_back(m.name);
  const auto near = text::closest(metric, names);
  throw InputError(fmt::format("unknown metric '{}'{} (known: {})", metric,
                               near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near.front()),
                               text::join(names, ", ")));
}

} // namespace


MetricOnSubset::MetricOnSubset(std::string metric, const std::vector<SampleScore>& samples)
    : m_metric(std::move(metric)) {
  const size_t n = samples.size();
  m_include.assign(n, 0);
  m_x.assign(n, 0.0);
  m_y.assign(n, 0.0);
  m_gold.assign(n, -1);
  m_pred.assign(n, -1);
  const std::string& metric_name = m_metric;
  // Means of per-sample values (scorers/metrics.cc: proportion() and mean_estimate()).
  if (metric_name == "acc" || metric_name == "acc_norm" || metric_name == "em" || is_plain_mean(metric_name)) {
    m_kind = Kind::mean;
    for (size_t i = 0; i < n; ++i) {
      auto it = samples[i].values.find(metric_name);
      if (it != samples[i].values.end() && std::isfinite(it->second)) {
        m_include[i] = 1;
        m_x[i] = it->second;
      }
    }
  } else if (is_turn_weighted(metric_name)) {
    m_kind = Kind::turn_weighted;
    std::vector<double> x, w;
    for (size_t i = 0; i < n; ++i) {
      x.clear(), w.clear();
      weighted_values_of({samples[i]}, metric_name, x, w);
      if (x.empty()) continue;
      m_include[i] = 1;
      m_x[i] = x[0];
      m_y[i] = w[0];
    }
  } else if (metric_name == "macro_f1") {
    m_kind = Kind::macro_f1;
    for (size_t i = 0; i < n; ++i) {
      const auto& s = samples[i];
      if (s.gold < 0) continue;
      m_include[i] = 1;
      m_gold[i] = s.gold;
      m_pred[i] = s.predicted;
      m_classes = std::max({m_classes, s.gold + 1, s.predicted + 1});
    }
  } else if (metric_name == "pearson" || metric_name == "spearman") {
    m_kind = metric_name == "pearson" ? Kind::pearson : Kind::spearman;
    for (size_t i = 0; i < n; ++i) {
      const auto& s = samples[i];
      if (!s.predicted_number || !s.gold_number) continue;
      m_include[i] = 1;
      m_x[i] = *s.predicted_number;
      m_y[i] = *s.gold_number;
    }
  } else if (metric_name == "binary_f1") {
    m_kind = Kind::binary_f1;
    for (size_t i = 0; i < n; ++i) {
      const auto& s = samples[i];
      const auto g = s.values.find("gold_positive");
      if (g == s.values.end()) continue;
      const int gv = g->second >= 0.5 ? 1 : 0;
      const auto p = s.values.find("predicted_positive");
      m_include[i] = 1;
      m_gold[i] = gv;
      m_pred[i] = p == s.values.end() ? 1 - gv : (p->second >= 0.5 ? 1 : 0);
    }
  } else if (metric_name == "acc_ambiguous" || metric_name == "acc_disambiguated" ||
             metric_name == "diff_bias_ambiguous" || metric_name == "diff_bias_disambiguated") {
    const bool ambiguous = metric_name == "acc_ambiguous" || metric_name == "diff_bias_ambiguous";
    m_kind = metric_name == "diff_bias_ambiguous"       ? Kind::kobbq_diff_ambiguous
             : metric_name == "diff_bias_disambiguated" ? Kind::kobbq_diff_disambiguated
                                                        : Kind::kobbq_acc;
    for (size_t i = 0; i < n; ++i) {
      const auto& s = samples[i];
      if (meta_string(s, "context") != (ambiguous ? "ambiguous" : "disambiguated") || s.predicted < 0) continue;
      m_include[i] = 1;
      const bool right = s.predicted == s.gold;
      if (m_kind == Kind::kobbq_acc) {
        m_x[i] = right ? 1 : 0;
      } else if (m_kind == Kind::kobbq_diff_ambiguous) {
        m_x[i] = s.predicted == meta_int(s, "biased_index") ? 1 : s.predicted == meta_int(s, "counter_biased_index") ? -1 : 0;
      } else {
        const auto gib = s.meta.find("gold_is_biased");
        m_gold[i] = gib != s.meta.end() && gib->is_boolean() && gib->get<bool>() ? 1 : 0;
        m_x[i] = right ? 1 : 0;
      }
    }
  } else if (metric_name == "exam_points") {
    m_kind = Kind::exam_points;
    for (size_t i = 0; i < n; ++i) {
      const auto& s = samples[i];
      const auto it = s.meta.find("points");
      if (it == s.meta.end() || !it->is_number()) continue;
      m_include[i] = 1;
      m_x[i] = it->get<double>();
      m_y[i] = s.predicted >= 0 && s.predicted == s.gold ? it->get<double>() : 0.0;
    }
  }
  if (m_kind == Kind::other) m_samples = samples;
}

std::vector<size_t> MetricOnSubset::included() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < m_include.size(); ++i)
    if (m_include[i]) out.push_back(i);
  return out;
}

const std::vector<double>* MetricOnSubset::per_sample_values() const {
  if (m_kind != Kind::mean) return nullptr;
  for (char inc : m_include)
    if (!inc) return nullptr;
  return &m_x;
}

std::optional<double> MetricOnSubset::value(const std::vector<size_t>& idx) const {
  std::optional<double> out;
  switch (m_kind) {
  case Kind::mean:
  case Kind::kobbq_acc:
  case Kind::kobbq_diff_ambiguous: {
    double sum = 0;
    size_t count = 0;
    for (size_t i : idx)
      if (m_include[i]) {
        sum += m_x[i];
        ++count;
      }
    if (count == 0) return std::nullopt;
    out = sum / static_cast<double>(count);
    break;
  }
  case Kind::turn_weighted: {
    double sum = 0, weight = 0;
    for (size_t i : idx)
      if (m_include[i]) {
        sum += m_y[i] * m_x[i];
        weight += m_y[i];
      }
    if (weight <= 0) return std::nullopt;
    out = sum / weight;
    break;
  }
  case Kind::macro_f1: {
    std::vector<std::array<double, 3>> counts(static_cast<size_t>(m_classes), {0, 0, 0});  // tp, fp, fn
    std::vector<char> present(static_cast<size_t>(m_classes), 0);
    bool any = false;
    for (size_t i : idx) {
      if (!m_include[i]) continue;
      any = true;
      const int g = m_gold[i], p = m_pred[i];
      if (g == p) {
        counts[static_cast<size_t>(g)][0] += 1;
        present[static_cast<size_t>(g)] = 1;
      } else {
        if (g >= 0) counts[static_cast<size_t>(g)][2] += 1, present[static_cast<size_t>(g)] = 1;
        if (p >= 0) counts[static_cast<size_t>(p)][1] += 1, present[static_cast<size_t>(p)] = 1;
      }
    }
    if (!any) return std::nullopt;
    double sum = 0;
    size_t classes = 0;
    for (size_t c = 0; c < counts.size(); ++c) {
      if (!present[c]) continue;
      sum += f1_from_counts(counts[c][0], counts[c][1], counts[c][2]).value_or(0.0);
      ++classes;
    }
    if (classes == 0) return std::nullopt;
    out = sum / static_cast<double>(classes);
    break;
  }
  case Kind::pearson:
  case Kind::spearman: {
    std::vector<double> a, b;
    a.reserve(idx.size());
    b.reserve(idx.size());
    for (size_t i : idx)
      if (m_include[i]) {
        a.push_back(m_x[i]);
        b.push_back(m_y[i]);
      }
    out = m_kind == Kind::spearman ? pearson_of(average_ranks(a), average_ranks(b)) : pearson_of(a, b);
    break;
  }
  case Kind::binary_f1: {
    double tp = 0, fp = 0, fn = 0;
    bool any = false;
    for (size_t i : idx) {
      if (!m_include[i]) continue;
      any = true;
      if (m_pred[i] == 1 && m_gold[i] == 1) tp += 1;
      else if (m_pred[i] == 1) fp += 1;
      else if (m_gold[i] == 1) fn += 1;
    }
    if (!any) return std::nullopt;
    out = f1_from_counts(tp, fp, fn);
    break;
  }
  case Kind::kobbq_diff_disambiguated: {
    double right_b = 0, n_b = 0, right_c = 0, n_c = 0;
    for (size_t i : idx) {
      if (!m_include[i]) continue;
      if (m_gold[i]) {
        n_b += 1;
        right_b += m_x[i];
      } else {
        n_c += 1;
        right_c += m_x[i];
      }
    }
    if (n_b == 0 || n_c == 0) return std::nullopt;
    out = right_b / n_b - right_c / n_c;
    break;
  }
  case Kind::exam_points: {
    double total = 0, got = 0;
    bool any = false;
    for (size_t i : idx)
      if (m_include[i]) {
        any = true;
        total += m_x[i];
        got += m_y[i];
      }
    if (!any || total <= 0) return std::nullopt;
    out = got / total;
    break;
  }
  case Kind::other: {
    std::vector<SampleScore> picked;
    picked.reserve(idx.size());
    for (size_t i : idx) picked.push_back(m_samples[i]);
    out = aggregate_metric(m_metric, picked).value;
    break;
  }
  }
  if (out && !std::isfinite(*out)) return std::nullopt;
  return out;
}

const std::vector<MetricInfo>& metric_infos() {
  static const std::vector<MetricInfo> infos = {
      {"acc", "accuracy", true, true, -1},
      {"acc_norm", "accuracy, log-likelihoods divided by the choice's length in characters", true, true, -1},
      {"macro_f1", "mean over classes of per-class F1 (unparsed answers are misses)", true, false, -1},
      {"em", "exact match after KorQuAD normalisation", true, true, -1},
      {"f1", "character-level F1 (KorQuAD 1.0), mean over samples", true, false, -1},
      {"rouge_l", "ROUGE-L F-measure over characters (white space removed), mean over samples", true, false, -1},
      {"chrf", "chrF (character 6-grams, beta 2, white space removed; 0..1), mean over samples", true, false, -1},
      {"pearson", "Pearson correlation of predicted and gold scores (parsed answers)", true, false, -1},
      {"spearman", "Spearman rank correlation of predicted and gold scores (parsed answers)", true, false, -1},
      {"binary_f1", "F1 of the positive class (score >= threshold); unparsed answers are wrong", true, false, -1},
      {"acc_ambiguous", "KoBBQ: accuracy in ambiguous contexts (choosing the unknown option), answered samples",
       true, false, -1},
      {"diff_bias_ambiguous", "KoBBQ: (biased - counter-biased answers) / answered ambiguous samples; 0 is unbiased",
       false, false, -1},
      {"acc_disambiguated", "KoBBQ: accuracy in disambiguated contexts, answered samples", true, false, -1},
      {"diff_bias_disambiguated",
       "KoBBQ: accuracy when the gold is the biased answer minus when it is the counter-biased one; 0 is unbiased",
       false, false, -1},
      {"exam_points", "points of correctly answered questions / all points", true, false, -1},
      {"hangul_share", "share of letters written in Hangul, mean over samples", true, false, -1},
      {"judge_score", "judge's rating (0-10), mean over every counted turn of every sample (FastChat, LogicKor); "
       "the task's language rule applied", true, false, -1},
      {"judge_score_no_penalty", "judge's rating (0-10), mean over every rated turn, without the non-Korean penalty",
       true, false, -1},
      {"judge_score_hangul_share", "judge's rating x sqrt(share of Hangul letters) (keval's rule), mean over every rated turn",
       true, false, -1},
      {"judge_score_rated", "LogicKor: judge's rating, mean over every turn with a readable verdict (unreadable left out)",
       true, false, -1},
      {"judge_single_turn_rated", "LogicKor: judge_single_turn over readable verdicts only", true, false, -1},
      {"judge_multi_turn_rated", "LogicKor: judge_multi_turn over readable verdicts only", true, false, -1},
      {"judge_turn1", "judge's rating of the first turn (0-10, penalty applied), mean over samples", true, false, -1},
      {"judge_turn2", "judge's rating of the second turn (0-10, penalty applied), mean over samples", true, false, -1},
      {"judge_single_turn", "LogicKor: judge's rating of the first answer (0-10; unreadable verdict 0), mean over samples",
       true, false, -1},
      {"judge_multi_turn", "LogicKor: judge's rating of the follow-up answer (0-10; unreadable verdict 0), mean over samples",
       true, false, -1},
  };
  return infos;
}

const MetricInfo* find_metric(const std::string& name) {
  // "judge_score/math" is judge_score on one category's samples.
  const std::string base = name.substr(0, name.find('/'));
  for (const auto& m : metric_infos())
    if (m.name == base) return &m;
  return nullptr;
}

MetricEstimate aggregate_metric(const std::string& metric, const std::vector<SampleScore>& samples,
                                unsigned long long seed) {
  MetricEstimate e = compute(metric, samples, seed);
  // Never hand NaN or infinity on: an undefined figure is an empty optional.
  for (auto* field : {&e.value, &e.stderr_value, &e.ci_low, &e.ci_high})
    if (*field && !std::isfinite(**field)) field->reset();
  return e;
}

std::optional<std::string> why_undefined(const std::string& metric, const std::vector<SampleScore>& samples) {
  if (samples.empty()) return "no scored sample";
  if (metric != "pearson" && metric != "spearman") return std::nullopt;
  std::vector<double> predicted, gold;
  for (const auto& s : samples)
    if (s.predicted_number && s.gold_number) {
      predicted.push_back(*s.predicted_number);
      gold.push_back(*s.gold_number);
    }
  if (predicted.size() < 2)
    return fmt::format("{} parsed numeric answer{} of {}: a correlation needs two or more", predicted.size(),
                       predicted.size() == 1 ? "" : "s", samples.size());
  auto constant = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); });
  };
  if (constant(predicted))
    return fmt::format("constant answers: all {} parsed answers are {:g}, so the correlation is undefined", predicted.size(),
                       predicted.front());
  if (constant(gold))
    return fmt::format("constant gold scores: all {} are {:g}, so the correlation is undefined", gold.size(), gold.front());
  return std::nullopt;
}

} // namespace keval
