// Scorer `multiple_choice`: log-likelihood or extracted answers over a fixed set of choices.
// Option `points_field`: the row field holding the question's exam score (KICE/CSAT), stored as
// meta.points for the `exam_points` metric.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "builtin_scorers.h"
#include "extract_choice.h"
#include "util/error.h"
#include "util/text.h"

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

} // namespace keval::detail
