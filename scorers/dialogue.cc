// Scorer `dialogue` (multi-turn: LogicKor, KoMT-Bench). Without a judge it measures one thing: how
// much of each answer is written in Hangul. Value hangul_share = mean over the turns of
// normalize::hangul_share of the answer text (reasoning blocks are removed before any scorer sees
// it). Never unparsed. A task's judge protocol
// (judge.h) adds the judge's values to the same sample score.
#include "builtin_scorers.h"
#include "normalize.h"

namespace keval::detail {

namespace {

class DialogueScorer : public Scorer {
public:
  SampleScore score(const Sample& sample, const ModelOutput& output) const override {
    SampleScore s;
    s.gold = sample.gold;
    double sum = 0;
    for (const auto& t : output.texts) sum += normalize::hangul_share(t);
    s.values["hangul_share"] = output.texts.empty() ? 0.0 : sum / static_cast<double>(output.texts.size());
    s.meta["turns"] = output.texts.size();
    flag_invalid_utf8(output, s);
    return s;
  }
};

} // namespace

std::unique_ptr<Scorer> make_dialogue_scorer(const nlohmann::json&) { return std::make_unique<DialogueScorer>(); }

const ScorerDefinition& dialogue_scorer() {
  static const MetricDefinition hangul_share{"hangul_share", "share of letters written in Hangul, mean over samples",
                                             Estimator::mean};
  static const ScorerDefinition scorer{"dialogue", {&hangul_share}, {}, make_dialogue_scorer};
  return scorer;
}

} // namespace keval::detail
