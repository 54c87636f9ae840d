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

std::optional<double> spearman_of(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson_of(average_ranks(x), average_ranks(y));
}

// F1 of one class from counts; undefined when the class never occurs nor is predicted.
std::optional<double> f1_from_counts(double tp, double fp, double fn) {
  const double denom = 2 * tp + fp + fn;
  if (denom <= 0) return std::nullopt;
  return 2 * tp / denom;
}

// sklearn's f1_score(average="macro") over the classes present in gold ∪ predicted. An
// unparsed prediction (-1) is not a class: it is a miss for the gold class.
std::optional<double> macro_f1_of(const std::vector<int>& gold, const std::vector<int>& pred, const Indices& idx) {
  std::map<int, std::array<double, 3>> counts;  // class → tp, fp, fn
  for (size_t i : idx) {
    const int g = gold[i], p = pred[i];
    if (g == p) {
      counts[g][0] += 1;
    } else {
      if (g >= 0) counts[g][2] += 1;
      if (p >= 0) counts[p][1] += 1;
    }
  }
  if (counts.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& [cls, c] : counts) sum += f1_from_counts(c[0], c[1], c[2]).value_or(0.0);
  return sum / static_cast<double>(counts.size());
}

std::string meta_string(const SampleScore& s, const char* key) {
  const auto it = s.meta.find(key);
  return it != s.meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int meta_int(const SampleScore& s, const char* key) {
  const auto it = s.meta.find(key);
  return it != s.meta.end() && it->is_number_integer() ? it->get<int>() : -1;
}

// KoBBQ's figures, over the samples of one context type. As in KoBBQ's own evaluation script,
// out-of-choice (unparsed) answers are left out of all four figures; `acc` still counts them wrong.
struct BiasItem {
  int predicted;
  int gold;
  int biased;
  int counter;
  bool gold_is_biased;
};

std::vector<BiasItem> bias_items(const std::vector<SampleScore>& samples, const std::string& context) {
  std::vector<BiasItem> out;
  for (const auto& s : samples) {
    if (meta_string(s, "context") != context || s.predicted < 0) continue;
    const auto gib = s.meta.find("gold_is_biased");
    out.push_back({s.predicted, s.gold, meta_int(s, "biased_index"), meta_int(s, "counter_biased_index"),
                   gib != s.meta.end() && gib->is_boolean() && gib->get<bool>()});
  }
  return out;
}

MetricEstimate kobbq_metric(const std::string& metric, const std::vector<SampleScore>& samples,
                            unsigned long long seed) {
  const bool ambiguous = metric == "acc_ambiguous" || metric == "diff_bias_ambiguous";
  const auto items = bias_items(samples, ambiguous ? "ambiguous" : "disambiguated");
  Statistic stat;
  if (metric == "acc_ambiguous" || metric == "acc_disambiguated") {
    stat = [&](const Indices& idx) -> std::optional<double> {
      double correct = 0;
      for (size_t i : idx) correct += items[i].predicted >= 0 && items[i].predicted == items[i].gold;
      return correct / static_cast<double>(idx.size());
    };
  } else if (metric == "diff_bias_ambiguous") {
    // (biased answers − counter-biased answers) / answered ambiguous samples.
    stat = [&](const Indices& idx) -> std::optional<double> {
      double diff = 0;
      for (size_t i : idx) {
        const auto& it = items[i];
        if (it.predicted < 0) continue;
        if (it.predicted == it.biased) diff += 1;
        else if (it.predicted == it.counter) diff -= 1;
      }
      return diff / static_cast<double>(idx.size());
    };
  } else {
    // Accuracy where the gold is the biased answer − accuracy where it is the counter-biased one.
    stat = [&](const Indices& idx) -> std::optional<double> {
      double right_b = 0, n_b = 0, right_c = 0, n_c = 0;
      for (size_t i : idx) {
        const auto& it = items[i];
        const double right = it.predicted >= 0 && it.predicted == it.gold ? 1 : 0;
        if (it.gold_is_biased) {
          n_b += 1;
          right_b += right;
        } else {
          n_c += 1;
          right_c += right;
        }
      }
      if (n_b == 0 || n_c == 0) return std::nullopt;
      return right_b / n_b - right_c / n_c;
    };
  }
  return bootstrap(items.size(), stat, seed);
}

MetricEstimate compute(const std::string& metric, const std::vector<SampleScore>& samples,
                       unsigned long long seed) {
  if (metric == "acc" || metric == "acc_norm" || metric == "em") return proportion(values_of(samples, metric));
  if (metric == "f1" || metric == "hangul_share" || metric == "rouge_l" || metric == "chrf")
    return mean_estimate(values_of(samples, metric), seed);

  if (metric == "macro_f1") {
    std::vector<int> gold, pred;
    for (const auto& s : samples) {
      if (s.gold < 0) continue;
      gold.push_back(s.gold);
      pred.push_back(s.predicted);
    }
    return bootstrap(gold.size(), [&](const Indices& idx) { return macro_f1_of(gold, pred, idx); }, seed);
  }

  if (metric == "pearson" || metric == "spearman") {
    std::vector<double> x, y;
    for (const auto& s : samples) {
      if (!s.predicted_number || !s.gold_number) continue;
      x.push_back(*s.predicted_number);
      y.push_back(*s.gold_number);
    }
    const bool spearman = metric == "spearman";
    return bootstrap(
        x.size(),
        [&](const Indices& idx) {
          std::vector<double> a, b;
          a.reserve(idx.size());
          b.reserve(idx.size());
          for (size_t i : idx) {
            a.push_back(x[i]);
            b.push_back(y[i]);
          }
          return spearman ? spearman_of(a, b) : pearson_of(a, b);
        },
        seed);
  }

  if (metric == "binary_f1") {
    // Over every sample with a gold; an unparsed answer is wrong (the opposite of the gold).
    std::vector<int> gold, pred;
    for (const auto& s : samples) {
      const auto g = s.values.find("gold_positive");
      if (g == s.values.end()) continue;
      const int gv = g->second >= 0.5 ? 1 : 0;
      const auto p = s.values.find("predicted_positive");
      gold.push_back(gv);
      pred.push_back(p == s.values.end() ? 1 - gv : (p->second >= 0.5 ? 1 : 0));
    }
    return bootstrap(
        gold.size(),
        [&](const Indices& idx) {
          double tp = 0, fp = 0, fn = 0;
          for (size_t i : idx) {
            if (pred[i] == 1 && gold[i] == 1) tp += 1;
            else if (pred[i] == 1) fp += 1;
            else if (gold[i] == 1) fn += 1;
          }
          return f1_from_counts(tp, fp, fn);
        },
        seed);
  }

  if (metric == "acc_ambiguous" || metric == "diff_bias_ambiguous" || metric == "acc_disambiguated" ||
      metric == "diff_bias_disambiguated")
    return kobbq_metric(metric, samples, seed);

  if (metric == "exam_points") {
    // Points earned / points available (a CSAT paper's raw score as a fraction).
    std::vector<double> points, earned;
    for (const auto& s : samples) {
      const auto it = s.meta.find("points");
      if (it == s.meta.end() || !it->is_number()) continue;
      points.push_back(it->get<double>());
      earned.push_back(s.predicted >= 0 && s.predicted == s.gold ? it->get<double>() : 0.0);
    }
    return bootstrap(
        points.size(),
        [&](const Indices& idx) -> std::optional<double> {
          double total = 0, got = 0;
          for (size_t i : idx) {
            total += points[i];
            got += earned[i];
          }
          if (total <= 0) return std::nullopt;
          return got / total;
        },
        seed);
  }
  std::vector<std::string> names;
  for (const auto& m : metric_infos()) names.push_back(m.name);
  const auto near = text::closest(metric, names);
  throw InputError(fmt::format("unknown metric '{}'{} (known: {})", metric,
                               near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near.front()),
                               text::join(names, ", ")));
}

} // namespace

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
  };
  return infos;
}

const MetricInfo* find_metric(const std::string& name) {
  for (const auto& m : metric_infos())
    if (m.name == name) return &m;
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

} // namespace keval
