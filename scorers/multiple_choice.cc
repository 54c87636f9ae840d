// Scorer `multiple_choice`: log-likelihood or extracted answers over a fixed set of choices.
// Option `points_field`: the row field holding the question's exam score (KICE/CSAT), stored as
// meta.points for the `exam_points` metric.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "builtin_scorers.h"
#include "estimators.h"
#include "extract_choice.h"
#include "error.h"
#include "text.h"

namespace keval::detail {

namespace {

// NaN logprobs (a broken backend) never win an argmax.
double comparable(double v) { return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v; }

// First index of the largest value: ties go to the earlier choice, as in lm-evaluation-harness.
int argmax(const std::vector<double>& v) {
  int best = -1;
  for (size_t i = 0; i < v.size(); ++i)
    if (best < 0 || comparable(v[i]) > comparable(v[static_cast<size_t>(best)])) best = static_cast<int>(i);
  return best;
}

std::string display_label(const Sample& sample, int index) {
  if (index < 0) return {};
  const auto i = static_cast<size_t>(index);
  if (i < sample.choice_labels.size()) return sample.choice_labels[i];
  if (i < sample.choice_texts.size()) return sample.choice_texts[i];
  return std::to_string(index);
}

class MultipleChoiceScorer : public Scorer {
public:
  explicit MultipleChoiceScorer(std::string points_field) : m_points_field(std::move(points_field)) {}

  SampleScore score(const Sample& sample, const ModelOutput& output) const override {
    SampleScore s = score_choice(sample, output);
    if (!m_points_field.empty()) {
      const auto points = field_number(sample.fields, m_points_field);
      if (!points)
        throw InputError(fmt::format("task '{}', sample '{}': field '{}' (points_field) is missing or not a number",
                                     sample.task, sample.id, m_points_field));
      s.meta["points"] = *points;
    }
    return s;
  }

private:
  std::string m_points_field;
};

} // namespace

SampleScore score_choice(const Sample& sample, const ModelOutput& output) {
  SampleScore s;
  s.gold = sample.gold;
  const size_t n_choices = !sample.choices.empty() ? sample.choices.size() : sample.choice_texts.size();
  if (output.loglikelihood) {
    if (output.logprobs.empty() || (n_choices > 0 && output.logprobs.size() != n_choices)) {
      s.unparsed = true;
      s.values["acc"] = 0;
      s.values["acc_norm"] = 0;
      return s;
    }
    std::vector<double> normalised(output.logprobs.size());
    for (size_t i = 0; i < output.logprobs.size(); ++i) {
      // Normalised as lm-evaluation-harness does (task.py process_results: lls / len(choice)):
      // by the code points of the choice, i.e. the continuation without the target delimiter it
      // starts with, its own spaces counted; for label continuations acc_norm equals acc.
      std::string_view text = i < sample.choices.size()        ? std::string_view(sample.choices[i])
                              : i < sample.choice_texts.size() ? std::string_view(sample.choice_texts[i])
                                                               : std::string_view();
      if (i < sample.choices.size() && text.substr(0, sample.target_delimiter.size()) == sample.target_delimiter)
        text.remove_prefix(sample.target_delimiter.size());
      const double chars = static_cast<double>(std::max<size_t>(1, text::char_count(text)));
      normalised[i] = output.logprobs[i] / chars;
    }
    s.predicted = argmax(output.logprobs);
    const int predicted_norm = argmax(normalised);
    s.meta["predicted_norm"] = predicted_norm;
    s.values["acc"] = s.predicted == sample.gold && sample.gold >= 0 ? 1.0 : 0.0;
    s.values["acc_norm"] = predicted_norm == sample.gold && sample.gold >= 0 ? 1.0 : 0.0;
    s.extracted = display_label(sample, s.predicted);
    return s;
  }
  const std::string response = output.texts.empty() ? std::string() : output.texts.front();
  const ChoiceExtraction found = extract_choice(response, sample.choice_labels, sample.choice_texts);
  flag_invalid_utf8(output, s);
  s.predicted = found.index;
  s.unparsed = found.unparsed();
  const double correct = !found.unparsed() && found.index == sample.gold ? 1.0 : 0.0;
  s.values["acc"] = correct;
  s.values["acc_norm"] = correct;
  s.extracted = display_label(sample, found.index);
  return s;
}

std::unique_ptr<Scorer> make_multiple_choice_scorer(const nlohmann::json& options) {
  return std::make_unique<MultipleChoiceScorer>(string_option("multiple_choice", options, "points_field", ""));
}

namespace {

// Mean over classes of per-class F1; a class counts when it is some sample's gold or prediction
// (unparsed answers are misses of their gold class).
class MacroF1 final : public MarkedCorpusStatistic {
public:
  explicit MacroF1(const std::vector<SampleScore>& samples)
      : MarkedCorpusStatistic(samples.size()), m_gold(samples.size(), -1), m_pred(samples.size(), -1) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      if (s.gold < 0) continue;
      m_include[i] = 1;
      m_gold[i] = s.gold;
      m_pred[i] = s.predicted;
      m_classes = std::max({m_classes, s.gold + 1, s.predicted + 1});
    }
  }

  std::optional<double> value(const std::vector<size_t>& picked) const override {
    std::vector<std::array<double, 3>> counts(static_cast<size_t>(m_classes), {0, 0, 0});  // tp, fp, fn
    std::vector<char> present(static_cast<size_t>(m_classes), 0);
    bool any = false;
    for (size_t i : picked) {
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
      sum += stats::f1_from_counts(counts[c][0], counts[c][1], counts[c][2]).value_or(0.0);
      ++classes;
    }
    if (classes == 0) return std::nullopt;
    return sum / static_cast<double>(classes);
  }

private:
  std::vector<int> m_gold, m_pred;
  int m_classes = 0;
};

// Points of the questions answered right over the points of all questions with points.
class ExamPoints final : public MarkedCorpusStatistic {
public:
  explicit ExamPoints(const std::vector<SampleScore>& samples)
      : MarkedCorpusStatistic(samples.size()), m_points(samples.size(), 0.0), m_earned(samples.size(), 0.0) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      const auto it = s.meta.find("points");
      if (it == s.meta.end() || !it->is_number()) continue;
      m_include[i] = 1;
      m_points[i] = it->get<double>();
      m_earned[i] = s.predicted >= 0 && s.predicted == s.gold ? it->get<double>() : 0.0;
    }
  }

  std::optional<double> value(const std::vector<size_t>& picked) const override {
    double total = 0, got = 0;
    bool any = false;
    for (size_t i : picked)
      if (m_include[i]) {
        any = true;
        total += m_points[i];
        got += m_earned[i];
      }
    if (!any || total <= 0) return std::nullopt;
    return got / total;
  }

private:
  std::vector<double> m_points, m_earned;
};

} // namespace

const MetricDefinition& accuracy_metric() {
  static const MetricDefinition metric{"acc", "accuracy", Estimator::proportion};
  return metric;
}

const MetricDefinition& normalised_accuracy_metric() {
  static const MetricDefinition metric = [] {
    MetricDefinition m{"acc_norm", "accuracy, log-likelihoods divided by the choice's length in characters",
                       Estimator::proportion};
    m.loglikelihood_only = true;  // a generated answer has no log-likelihood to normalise
    return m;
  }();
  return metric;
}

const ScorerDefinition& multiple_choice_scorer() {
  static const MetricDefinition macro_f1{
      "macro_f1", "mean over classes of per-class F1 (unparsed answers are misses)", Estimator::resampled, true,
      [](const std::vector<SampleScore>& s) { return std::make_unique<MacroF1>(s); }};
  static const MetricDefinition exam_points{
      "exam_points", "points of correctly answered questions / all points", Estimator::resampled, true,
      [](const std::vector<SampleScore>& s) { return std::make_unique<ExamPoints>(s); }};
  static const ScorerDefinition scorer{"multiple_choice",
                                       {&accuracy_metric(), &normalised_accuracy_metric(), &macro_f1, &exam_points},
                                       {"points_field"},
                                       make_multiple_choice_scorer};
  return scorer;
}

} // namespace keval::detail
