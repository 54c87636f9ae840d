#include "metrics.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "judge.h"
#include "error.h"
#include "text.h"

namespace keval {

namespace {

std::vector<double> values_of(const std::vector<SampleScore>& samples, const std::string& key) {
  std::vector<double> out;
  for (const auto& s : samples) {
    const auto it = s.values.find(key);
    if (it != s.values.end() && std::isfinite(it->second)) out.push_back(it->second);
  }
  return out;
}

const MetricDefinition* find_exact(const std::string& name) {
  for (const MetricDefinition* m : metric_definitions())
    if (m->name == name) return m;
  return nullptr;
}

[[noreturn]] void unknown_metric(const std::string& metric) {
  std::vector<std::string> names;
  for (const MetricDefinition* m : metric_definitions()) names.push_back(m->name);
  const auto near = text::closest(metric, names);
  throw InputError(fmt::format("unknown metric '{}'{} (known: {})", metric,
                               near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near.front()),
                               text::join(names, ", ")));
}

// A resampled metric: its statistic on the samples it includes, seeded bootstrap over them.
MetricEstimate resampled(const MetricDefinition& metric, const std::vector<SampleScore>& samples,
                         unsigned long long seed) {
  const std::unique_ptr<CorpusStatistic> statistic = metric.corpus_statistic(samples);
  const std::vector<size_t> units = statistic->included();
  stats::Indices picked;
  return stats::bootstrap(
      units.size(),
      [&](const stats::Indices& idx) {
        picked.resize(idx.size());
        for (size_t i = 0; i < idx.size(); ++i) picked[i] = units[idx[i]];
        const std::optional<double> v = statistic->value(picked);
        return v && std::isfinite(*v) ? v : std::nullopt;
      },
      seed);
}

} // namespace

std::vector<size_t> MarkedCorpusStatistic::included() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < m_include.size(); ++i)
    if (m_include[i]) out.push_back(i);
  return out;
}

const std::vector<const MetricDefinition*>& metric_definitions() {
  static const std::vector<const MetricDefinition*> all = [] {
    std::vector<const MetricDefinition*> out;
    auto add = [&](const MetricDefinition* m) {
      for (const MetricDefinition* known : out) {
        if (known == m) return;  // one metric produced by several scorers (acc)
        if (known->name == m->name) throw std::logic_error("metric '" + m->name + "' is declared twice");
      }
      out.push_back(m);
    };
    for (const ScorerDefinition* s : scorer_definitions())
      for (const MetricDefinition* m : s->metrics) add(m);
    for (const JudgeProtocolDefinition* j : judge_protocol_definitions())
      for (const MetricDefinition* m : j->metrics) add(m);
    return out;
  }();
  return all;
}

const MetricDefinition* find_metric(const std::string& name) { return find_exact(name.substr(0, name.find('/'))); }

MetricOnSubset::MetricOnSubset(std::string metric, const std::vector<SampleScore>& samples)
    : m_metric(std::move(metric)), m_size(samples.size()), m_definition(find_exact(m_metric)) {
  if (!m_definition) return;
  if (m_definition->estimator == Estimator::resampled) {
    m_statistic = m_definition->corpus_statistic(samples);
    return;
  }
  m_include.assign(samples.size(), 0);
  m_x.assign(samples.size(), 0.0);
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto it = samples[i].values.find(m_metric);
    if (it != samples[i].values.end() && std::isfinite(it->second)) {
      m_include[i] = 1;
      m_x[i] = it->second;
    }
  }
}

std::vector<size_t> MetricOnSubset::included() const {
  if (m_statistic) return m_statistic->included();
  std::vector<size_t> out;
  for (size_t i = 0; i < m_include.size(); ++i)
    if (m_include[i]) out.push_back(i);
  return out;
}

const std::vector<double>* MetricOnSubset::per_sample_values() const {
  if (!m_definition || m_statistic) return nullptr;
  for (char inc : m_include)
    if (!inc) return nullptr;
  return &m_x;
}

std::optional<double> MetricOnSubset::value(const std::vector<size_t>& idx) const {
  if (!m_definition) unknown_metric(m_metric);
  std::optional<double> out;
  if (m_statistic) {
    out = m_statistic->value(idx);
  } else {
    double sum = 0;
    size_t count = 0;
    for (size_t i : idx)
      if (m_include[i]) {
        sum += m_x[i];
        ++count;
      }
    if (count == 0) return std::nullopt;
    out = sum / static_cast<double>(count);
  }
  if (out && !std::isfinite(*out)) return std::nullopt;
  return out;
}

MetricEstimate aggregate_metric(const MetricDefinition& metric, const std::vector<SampleScore>& samples,
                                unsigned long long seed) {
  switch (metric.estimator) {
  case Estimator::proportion: return stats::proportion(values_of(samples, metric.name));
  case Estimator::mean: return stats::mean(values_of(samples, metric.name), seed);
  case Estimator::resampled: return resampled(metric, samples, seed);
  }
  return {};
}

MetricEstimate aggregate_metric(const std::string& metric, const std::vector<SampleScore>& samples,
                                unsigned long long seed) {
  const MetricDefinition* definition = find_exact(metric);
  if (!definition) unknown_metric(metric);
  return aggregate_metric(*definition, samples, seed);
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
