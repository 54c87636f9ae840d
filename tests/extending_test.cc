// docs/extending.md's worked examples, verbatim: the scorer `contains_answer` and the backend
// `fixed` below are exactly the doc's code blocks (the first test checks that every ```cpp block
// of the doc appears in this file), and the other tests show that they work.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "backend.h"
#include "builtin_scorers.h"
#include "metrics.h"
#include "normalize.h"
#include "support/cli.h"

// ---- scorers/contains_answer.cc, as docs/extending.md shows it --------------------------------
// Scorer `contains_answer`: 1 when the answer holds one of the sample's reference texts,
// both compared in normalize::for_compare's form (NFC, white space folded).
namespace keval::detail {
namespace {

class ContainsAnswerScorer final : public Scorer {
public:
  SampleScore score(const Sample& sample, const ModelOutput& output) const override {
    SampleScore s;
    const std::string answer = normalize::for_compare(output.texts.empty() ? "" : output.texts.front());
    bool found = false;
    for (const auto& reference : sample.references)
      found = found || answer.find(normalize::for_compare(reference)) != std::string::npos;
    s.values["contains"] = found ? 1.0 : 0.0;
    s.extracted = answer;
    return s;
  }
};

} // namespace

const ScorerDefinition& contains_answer_scorer() {
  static const MetricDefinition contains{"contains", "the answer holds a reference text", Estimator::proportion};
  static const ScorerDefinition scorer{"contains_answer", {&contains}, {}, [](const nlohmann::json&) {
                                         return std::make_unique<ContainsAnswerScorer>();
                                       }};
  return scorer;
}

} // namespace keval::detail
// ---- end of scorers/contains_answer.cc ---------------------------------------------------------

// ---- harness/engine/backends/fixed_backend.cc, as docs/extending.md shows it --------------------------
// Backend `fixed`: answers every generation request with the text given as --model; it has no
// log-likelihoods, so multiple-choice tasks run in generation mode.
namespace keval {
namespace {

class FixedBackend final : public Backend {
public:
  explicit FixedBackend(std::string answer) : m_answer(std::move(answer)) {}
  std::string kind() const override { return "fixed"; }
  bool supports_loglikelihood(std::string_view) const override { return false; }

  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      Response r;
      if (batch[i].kind == RequestKind::generate) r.text = m_answer;
      else r = Response::failed(FailureKind::backend, "fixed answers no log-likelihood request");
      on_response(i, std::move(r));
    }
  }

private:
  std::string m_answer;
};

} // namespace

std::unique_ptr<Backend> make_fixed_backend(const BackendOptions& options) {
  return std::make_unique<FixedBackend>(options.model);
}

} // namespace keval
// ---- end of harness/engine/backends/fixed_backend.cc --------------------------------------------------

namespace keval {
namespace {

// The doc's ```cpp blocks, in order.
std::vector<std::string> cpp_blocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::stringstream in(markdown);
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```cpp") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

TEST(Extending, EveryCodeBlockOfTheDocIsInThisTest) {
  const std::string doc = testing::slurp(std::string(KEVAL_SOURCE_DIR) + "/docs/extending.md");
  const std::string self = testing::slurp(std::string(KEVAL_SOURCE_DIR) + "/tests/extending_test.cc");
  const auto blocks = cpp_blocks(doc);
  ASSERT_EQ(blocks.size(), 2u) << "docs/extending.md lost its examples";
  for (const auto& block : blocks) EXPECT_NE(self.find(block), std::string::npos) << "not in this test:\n" << block;
}

Sample with_references(std::vector<std::string> references) {
  Sample s;
  s.references = std::move(references);
  return s;
}

TEST(Extending, TheExampleScorerScoresAndAggregates) {
  const ScorerDefinition& definition = detail::contains_answer_scorer();
  const auto scorer = definition.make(nlohmann::json::object());
  ModelOutput said;
  said.texts = {"정답은  서울특별시 입니다."};  // two spaces fold to one
  // "서울" written as decomposed jamo (NFD) still matches.
  const std::string seoul_nfd = "\xE1\x84\x89\xE1\x85\xA5\xE1\x84\x8B\xE1\x85\xAE\xE1\x86\xAF";
  std::vector<SampleScore> scores = {scorer->score(with_references({seoul_nfd}), said),
                                     scorer->score(with_references({"부산", "서울특별시 입니다"}), said),
                                     scorer->score(with_references({"부산"}), said),
                                     scorer->score(with_references({"대전"}), ModelOutput{})};
  EXPECT_EQ(scores[0].values.at("contains"), 1.0);
  EXPECT_EQ(scores[1].values.at("contains"), 1.0);
  EXPECT_EQ(scores[2].values.at("contains"), 0.0);
  EXPECT_EQ(scores[3].values.at("contains"), 0.0);
  ASSERT_EQ(definition.metrics.size(), 1u);
  const MetricEstimate e = aggregate_metric(*definition.metrics[0], scores);
  ASSERT_TRUE(e.value && e.ci_low && e.ci_high);
  EXPECT_DOUBLE_EQ(*e.value, 0.5);
  EXPECT_EQ(e.n, 4);
  EXPECT_NEAR(*e.stderr_value, 0.25, 1e-12);  // sqrt(0.5 * 0.5 / 4)
  EXPECT_LT(*e.ci_low, 0.5);                  // Wilson interval around 0.5
  EXPECT_GT(*e.ci_high, 0.5);
}

TEST(Extending, TheExampleBackendAnswersThroughTheRegistry) {
  register_backend("fixed", make_fixed_backend, "answers every request with the text of --model");
  const std::vector<std::string> kinds = backend_kinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "fixed"), kinds.end());
  BackendOptions options;
  options.kind = "fixed";
  options.model = "정답은 B입니다.";
  const auto backend = make_backend(options);
  std::vector<Request> batch(2);
  batch[0].key = "t/1/0";
  batch[1].key = "t/2/0";
  batch[1].kind = RequestKind::loglikelihood;
  std::vector<Response> got(batch.size());
  backend->answer(batch, [&](size_t i, Response r) { got[i] = std::move(r); });
  EXPECT_TRUE(got[0].ok());
  EXPECT_EQ(got[0].text, "정답은 B입니다.");
  EXPECT_EQ(got[1].failure, FailureKind::backend);
  EXPECT_FALSE(backend->supports_loglikelihood("t"));
}

} // namespace
} // namespace keval
