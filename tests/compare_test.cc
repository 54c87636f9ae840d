// Paired comparison of runs: the metric recomputation against aggregate_metric, and
// `keval compare` end to end.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compare.h"
#include "metrics.h"
#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;

// Scores with every field some metric reads, drawn at random (a few undefined on purpose).
std::vector<SampleScore> random_scores(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  std::vector<SampleScore> out;
  for (size_t i = 0; i < n; ++i) {
    SampleScore s;
    s.gold = static_cast<int>(rng() % 3);
    s.predicted = coin(0.1) ? -1 : static_cast<int>(rng() % 3);
    s.unparsed = s.predicted < 0;
    const double right = s.predicted == s.gold ? 1.0 : 0.0;
    s.values["acc"] = right;
    s.values["acc_norm"] = coin(0.5) ? 1.0 : 0.0;
    s.values["em"] = right;
    if (!coin(0.05)) s.values["f1"] = std::uniform_real_distribution<double>(0, 1)(rng);
    s.values["hangul_share"] = std::uniform_real_distribution<double>(0, 1)(rng);
    s.values["rouge_l"] = std::uniform_real_distribution<double>(0, 1)(rng);
    s.values["chrf"] = std::uniform_real_distribution<double>(0, 1)(rng);
    s.values["gold_positive"] = coin(0.4) ? 1.0 : 0.0;
    if (!coin(0.1)) s.values["predicted_positive"] = coin(0.5) ? 1.0 : 0.0;
    s.gold_number = std::uniform_real_distribution<double>(0, 5)(rng);
    if (!coin(0.1)) s.predicted_number = *s.gold_number * 0.5 + std::uniform_real_distribution<double>(0, 2)(rng);
    s.meta["context"] = coin(0.5) ? "ambiguous" : "disambiguated";
    s.meta["biased_index"] = static_cast<int>(rng() % 3);
    s.meta["counter_biased_index"] = static_cast<int>(rng() % 3);
    s.meta["gold_is_biased"] = coin(0.5);
    s.meta["points"] = coin(0.5) ? 2 : 3;
    out.push_back(std::move(s));
  }
  return out;
}

TEST(Compare, MetricOnSubsetEqualsAggregateMetricForEveryMetric) {
  const auto samples = random_scores(300, 11);
  std::mt19937 rng(5);
  stats::Indices all(samples.size()), picked(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    all[i] = i;
    picked[i] = rng() % samples.size();
  }
  for (const MetricDefinition* info : metric_definitions()) {
    MetricOnSubset m(info->name, samples);
    for (const auto* idx : {&all, &picked}) {
      std::vector<SampleScore> subset;
      for (size_t i : *idx) subset.push_back(samples[i]);
      const auto expected = aggregate_metric(info->name, subset).value;
      const auto got = m.value(*idx);
      ASSERT_EQ(expected.has_value(), got.has_value()) << info->name;
      if (expected) {
        EXPECT_DOUBLE_EQ(*got, *expected) << info->name;
      }
    }
  }
}

TEST(Compare, MetricOnSubsetIsUndefinedWhereAggregateMetricIs) {
  std::vector<SampleScore> none;
  for (const MetricDefinition* info : metric_definitions()) EXPECT_FALSE(MetricOnSubset(info->name, none).value({})) << info->name;
}

nlohmann::json compare_json(const std::string& db, const std::string& base, const std::string& cand) {
  auto r = run_keval("compare --json --db " + shell_quote(db) + " " + base + " " + cand);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

const nlohmann::json* row(const nlohmann::json& c, const std::string& task, const std::string& metric) {
  for (const auto& t : c["tasks"])
    if (t["task"] == task && t["metric"] == metric) return &t;
  return nullptr;
}

TEST(Compare, SameRunTwiceIsExactlyEqual) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  for (const char* name : {"a", "b"})
    ASSERT_EQ(run_keval("run --backend random --seed 5 --tasks kobest --limit 60 --no-progress --name " + std::string(name) +
                        " --db " + db)
                  .exit_code,
              0);
  auto c = compare_json(db, "a", "b");
  EXPECT_TRUE(c["warnings"].empty()) << c["warnings"];
  const auto* copa = row(c, "kobest_copa", "acc");
  ASSERT_NE(copa, nullptr);
  EXPECT_EQ((*copa)["n_paired"], 60);
  EXPECT_EQ((*copa)["diff"], 0.0);
  EXPECT_EQ((*copa)["p_value"], 1.0);
  EXPECT_EQ((*copa)["test"], "mcnemar-exact");
  EXPECT_EQ((*copa)["ci_low"], 0.0);
  EXPECT_EQ((*copa)["ci_high"], 0.0);
  const auto* group = row(c, "kobest", "acc");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ((*group)["group"], true);
  EXPECT_EQ((*group)["aggregation"], "micro");  // kobest is weighted by size, as lm-eval's group
  EXPECT_EQ((*group)["n_paired"], 5 * 60);
  EXPECT_EQ((*group)["diff"], 0.0);
  EXPECT_EQ((*group)["test"], "permutation-stratified");
  // macro_f1 is not right/wrong: a permutation test.
  const auto* f1 = row(c, "kobest_copa", "macro_f1");
  ASSERT_NE(f1, nullptr);
  EXPECT_EQ((*f1)["test"], "permutation");
  EXPECT_EQ((*f1)["p_value"], 1.0);
}

TEST(Compare, PairsOnlySharedSamplesAndNamesConfigurationDifferences) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  ASSERT_EQ(run_keval("run --backend random --seed 1 --tasks kobest_copa,korsts --limit 50 --no-progress --name base --db " + db)
                .exit_code,
            0);
  ASSERT_EQ(run_keval("run --backend random --seed 2 --tasks kobest_copa,korsts --limit 80 --mc-mode generate --no-progress "
                      "--name cand --db " + db)
                .exit_code,
            0);
  auto c = compare_json(db, "base", "cand");
  const std::string warnings = c["warnings"].dump();
  EXPECT_NE(warnings.find("limit differs: 50 vs 80"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("mc_mode differs"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("task kobest_copa: asked by loglik vs generate"), std::string::npos) << warnings;
  const auto* copa = row(c, "kobest_copa", "acc");
  ASSERT_NE(copa, nullptr);
  EXPECT_EQ((*copa)["n_paired"], 50);  // the 50 samples both scored
  const double diff = (*copa)["diff"];
  EXPECT_NEAR(diff, (*copa)["cand"].get<double>() - (*copa)["base"].get<double>(), 1e-12);
  EXPECT_LE((*copa)["ci_low"].get<double>(), diff);
  EXPECT_GE((*copa)["ci_high"].get<double>(), diff);
  const auto* pearson = row(c, "korsts", "pearson");
  ASSERT_NE(pearson, nullptr);
  EXPECT_EQ((*pearson)["test"], "permutation");
  EXPECT_GT((*pearson)["p_value"].get<double>(), 0.0);
  EXPECT_LE((*pearson)["p_value"].get<double>(), 1.0);
  // The table says the same, with the warning on top.
  auto text = run_keval("compare --db " + db + " base cand");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("warning: configurations differ: limit differs"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("kobest_copa"), std::string::npos);
  // Deterministic: the same comparison twice prints the same thing.
  EXPECT_EQ(run_keval("compare --db " + db + " base cand").out, text.out);
}

// A model that answers every STS pair with the same score has no correlation: results and
// compare say so rather than printing a bare "-".
TEST(Compare, ConstantAnswersSayWhyTheCorrelationIsUndefined) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  auto samples = run_keval("samples --json --task korsts --limit 30");
  ASSERT_EQ(samples.exit_code, 0) << samples.err;
  std::string replay;
  std::stringstream lines(samples.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty())
      replay += nlohmann::json{{"task", "korsts"}, {"id", nlohmann::json::parse(line)["id"]}, {"response", "3"}}.dump() + "\n";
  testing::write_file(dir.path() / "constant.jsonl", replay);
  ASSERT_EQ(run_keval("run --backend random --seed 1 --tasks korsts --limit 30 --no-progress --name base --db " + db).exit_code, 0);
  auto constant = run_keval("run --backend replay --responses " + dir / "constant.jsonl" +
                            " --tasks korsts --limit 30 --no-progress --name flat --db " + db);
  ASSERT_EQ(constant.exit_code, 0) << constant.err;
  EXPECT_NE(constant.out.find("korsts pearson: no value (constant answers: all 30 parsed answers are 3"), std::string::npos)
      << constant.out;
  auto results = run_keval("results --json --db " + db + " flat");
  bool said = false;
  const auto stored = nlohmann::json::parse(results.out);
  for (const auto& t : stored["tasks"])
    if (t["metric"] == "spearman") {
      EXPECT_TRUE(t["value"].is_null());
      said = said || t.value("undefined_reason", "").find("constant answers") != std::string::npos;
    }
  EXPECT_TRUE(said) << results.out;
  auto c = compare_json(db, "base", "flat");
  const auto* pearson = row(c, "korsts", "pearson");
  ASSERT_NE(pearson, nullptr);
  EXPECT_TRUE((*pearson)["cand"].is_null());
  EXPECT_NE((*pearson).value("undefined_reason", "").find("candidate: constant answers"), std::string::npos) << *pearson;
  auto text = run_keval("compare --db " + db + " base flat");
  EXPECT_NE(text.out.find("korsts pearson: no value (candidate: constant answers"), std::string::npos) << text.out;
}

TEST(Compare, UnknownRunIsAnInputError) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 5 --no-progress --name nightly --db " + db).exit_code, 0);
  auto r = run_keval("compare --db " + db + " nightly nightlx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no run 'nightlx'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'nightly'"), std::string::npos) << r.err;
  EXPECT_EQ(run_keval("compare --db " + dir / "missing.db" + " a b").exit_code, 2);
}

} // namespace
} // namespace keval
