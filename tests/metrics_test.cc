// Task-level metrics on small sets computed by hand.
#include <cmath>

#include <gtest/gtest.h>

#include "metrics.h"
#include "scorer.h"
#include "error.h"

namespace keval {
namespace {

SampleScore with_value(const std::string& key, double v) {
  SampleScore s;
  s.values[key] = v;
  return s;
}

SampleScore choice(int gold, int predicted) {
  SampleScore s;
  s.gold = gold;
  s.predicted = predicted;
  s.unparsed = predicted < 0;
  s.values["acc"] = predicted >= 0 && predicted == gold ? 1.0 : 0.0;
  return s;
}

SampleScore numbers(std::optional<double> predicted, double gold) {
  SampleScore s;
  s.predicted_number = predicted;
  s.gold_number = gold;
  s.unparsed = !predicted;
  return s;
}

void expect_interval_brackets(const MetricEstimate& e) {
  ASSERT_TRUE(e.value && e.ci_low && e.ci_high);
  EXPECT_LE(*e.ci_low, *e.value + 1e-12);
  EXPECT_GE(*e.ci_high, *e.value - 1e-12);
}

TEST(Metrics, ProportionWithWilsonInterval) {
  std::vector<SampleScore> s;
  for (int i = 0; i < 10; ++i) s.push_back(with_value("acc", i < 8 ? 1.0 : 0.0));
  const auto e = aggregate_metric("acc", s);
  EXPECT_EQ(e.n, 10);
  EXPECT_DOUBLE_EQ(*e.value, 0.8);
  EXPECT_NEAR(*e.stderr_value, 0.126491106406735, 1e-12);  // sqrt(0.8 · 0.2 / 10)
  EXPECT_NEAR(*e.ci_low, 0.490162471536642, 1e-9);
  EXPECT_NEAR(*e.ci_high, 0.943317848545625, 1e-9);
}

TEST(Metrics, ProportionEdgeCases) {
  const auto none = aggregate_metric("acc", {});
  EXPECT_EQ(none.n, 0);
  EXPECT_FALSE(none.value);
  EXPECT_FALSE(none.ci_low);
  std::vector<SampleScore> all_right(5, with_value("em", 1.0));
  const auto e = aggregate_metric("em", all_right);
  EXPECT_DOUBLE_EQ(*e.value, 1.0);
  EXPECT_DOUBLE_EQ(*e.stderr_value, 0.0);
  EXPECT_DOUBLE_EQ(*e.ci_high, 1.0);
  EXPECT_LT(*e.ci_low, 1.0);  // Wilson does not collapse at p = 1
}

TEST(Metrics, PearsonAndSpearmanByHand) {
  // x = 1..5, y = 2,4,5,4,5. Pearson: Sxy = 6, Sxx = 10, Syy = 6 → 6/√60.
  // Ranks of y with ties averaged: 1, 2.5, 4.5, 2.5, 4.5 → Spearman 7/√90.
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {2, 4, 5, 4, 5};
  std::vector<SampleScore> s;
  for (size_t i = 0; i < x.size(); ++i) s.push_back(numbers(x[i], y[i]));
  s.push_back(numbers(std::nullopt, 3));  // unparsed: left out of correlations
  const auto p = aggregate_metric("pearson", s);
  EXPECT_EQ(p.n, 5);
  EXPECT_NEAR(*p.value, 6.0 / std::sqrt(60.0), 1e-12);
  expect_interval_brackets(p);
  const auto r = aggregate_metric("spearman", s);
  EXPECT_NEAR(*r.value, 7.0 / std::sqrt(90.0), 1e-12);
  EXPECT_TRUE(r.stderr_value);
}

TEST(Metrics, CorrelationUndefinedIsEmptyNotNan) {
  EXPECT_FALSE(aggregate_metric("pearson", {numbers(3, 4)}).value);  // one sample
  const auto flat = aggregate_metric("pearson", {numbers(3, 1), numbers(3, 2), numbers(3, 5)});
  EXPECT_EQ(flat.n, 3);
  EXPECT_FALSE(flat.value);  // zero variance
  EXPECT_FALSE(flat.stderr_value);
  EXPECT_FALSE(aggregate_metric("spearman", {}).value);
}

// An undefined correlation says why: too few parsed answers, or constant answers or gold scores.
TEST(Metrics, UndefinedCorrelationSaysWhy) {
  const auto one = why_undefined("pearson", {numbers(3, 4), numbers(std::nullopt, 2)});
  ASSERT_TRUE(one);
  EXPECT_NE(one->find("1 parsed numeric answer of 2"), std::string::npos) << *one;
  const auto flat = why_undefined("spearman", {numbers(3, 1), numbers(3, 2), numbers(3, 5)});
  ASSERT_TRUE(flat);
  EXPECT_NE(flat->find("constant answers: all 3 parsed answers are 3"), std::string::npos) << *flat;
  const auto gold = why_undefined("pearson", {numbers(1, 4), numbers(2, 4)});
  ASSERT_TRUE(gold);
  EXPECT_NE(gold->find("constant gold scores"), std::string::npos) << *gold;
  EXPECT_FALSE(why_undefined("pearson", {numbers(1, 2), numbers(2, 4)}));  // defined: no reason
  EXPECT_EQ(why_undefined("acc", {}), "no scored sample");
}

TEST(Metrics, MacroF1OnASmallConfusion) {
  // gold 0 0 1 1 2 2, predicted 0 1 1 1 2 (unparsed).
  // class 0: tp 1, fp 0, fn 1 → 2/3; class 1: tp 2, fp 1, fn 0 → 4/5; class 2: tp 1, fn 1 → 2/3.
  const std::vector<SampleScore> s = {choice(0, 0), choice(0, 1), choice(1, 1),
                                      choice(1, 1), choice(2, 2), choice(2, -1)};
  const auto e = aggregate_metric("macro_f1", s);
  EXPECT_EQ(e.n, 6);
  EXPECT_NEAR(*e.value, (2.0 / 3 + 4.0 / 5 + 2.0 / 3) / 3, 1e-12);
  expect_interval_brackets(e);
  // A class only ever predicted counts too (F1 0), as in scikit-learn.
  const auto f = aggregate_metric("macro_f1", {choice(0, 0), choice(0, 3)});
  EXPECT_NEAR(*f.value, (2.0 / 3 + 0.0) / 2, 1e-12);
}

TEST(Metrics, BinaryF1WithUnparsedCountedWrong) {
  auto scorer = make_scorer("similarity", {});
  const std::vector<std::pair<std::string, double>> rows = {
      {"3.5", 4.0}, {"2", 3.0}, {"3.2", 1.0}, {"모르겠습니다", 2.5}, {"4.9", 5.0}};
  std::vector<SampleScore> s;
  for (const auto& [answer, gold] : rows) {
    Sample sample;
    sample.gold_number = gold;
    ModelOutput o;
    o.texts = {answer};
    s.push_back(scorer->score(sample, o));
  }
  // gold positive: 1 1 0 0 1; predicted: 1 0 1 (unparsed → wrong → 1) 1 → tp 2, fp 2, fn 1 → 4/7.
  const auto e = aggregate_metric("binary_f1", s);
  EXPECT_EQ(e.n, 5);
  EXPECT_NEAR(*e.value, 4.0 / 7.0, 1e-12);
  EXPECT_EQ(aggregate_metric("pearson", s).n, 4);
}

SampleScore bias(const std::string& context, int gold, int predicted, bool gold_is_biased) {
  // Choices: 0 counter-biased, 1 biased, 2 unknown.
  SampleScore s = choice(gold, predicted);
  s.meta = {{"context", context},
            {"biased_index", 1},
            {"unknown_index", 2},
            {"counter_biased_index", 0},
            {"gold_is_biased", gold_is_biased}};
  return s;
}

TEST(Metrics, KobbqFiguresOnATinySet) {
  std::vector<SampleScore> s = {
      // ambiguous (gold: unknown): right, biased, biased, counter-biased, unparsed
      bias("ambiguous", 2, 2, false), bias("ambiguous", 2, 1, false), bias("ambiguous", 2, 1, false),
      bias("ambiguous", 2, 0, false), bias("ambiguous", 2, -1, false),
      // disambiguated, gold biased: right, wrong
      bias("disambiguated", 1, 1, true), bias("disambiguated", 1, 2, true),
      // disambiguated, gold counter-biased: right, right
      bias("disambiguated", 0, 0, false), bias("disambiguated", 0, 0, false)};
  // The unparsed answer is out-of-choice: left out, as KoBBQ's evaluation script does.
  auto e = aggregate_metric("acc_ambiguous", s);
  EXPECT_EQ(e.n, 4);
  EXPECT_DOUBLE_EQ(*e.value, 1.0 / 4);
  e = aggregate_metric("diff_bias_ambiguous", s);
  EXPECT_DOUBLE_EQ(*e.value, (2.0 - 1.0) / 4);
  expect_interval_brackets(e);
  e = aggregate_metric("acc_disambiguated", s);
  EXPECT_EQ(e.n, 4);
  EXPECT_DOUBLE_EQ(*e.value, 3.0 / 4);
  e = aggregate_metric("diff_bias_disambiguated", s);
  EXPECT_DOUBLE_EQ(*e.value, 0.5 - 1.0);
  // Only one kind of disambiguated sample: the difference is undefined.
  e = aggregate_metric("diff_bias_disambiguated", {bias("disambiguated", 1, 1, true)});
  EXPECT_FALSE(e.value);
}

TEST(Metrics, ExamPoints) {
  std::vector<SampleScore> s = {choice(0, 0), choice(1, 2), choice(2, 2), choice(3, -1)};
  const double points[] = {2, 3, 3, 4};
  for (size_t i = 0; i < s.size(); ++i) s[i].meta["points"] = points[i];
  const auto e = aggregate_metric("exam_points", s);
  EXPECT_EQ(e.n, 4);
  EXPECT_NEAR(*e.value, 5.0 / 12.0, 1e-12);
  expect_interval_brackets(e);
}

TEST(Metrics, MeanMetricsUseSampleStderrAndABootstrapInterval) {
  const std::vector<SampleScore> s = {with_value("f1", 1.0), with_value("f1", 0.5), with_value("f1", 0.0)};
  const auto e = aggregate_metric("f1", s);
  EXPECT_EQ(e.n, 3);
  EXPECT_DOUBLE_EQ(*e.value, 0.5);
  EXPECT_NEAR(*e.stderr_value, 0.5 / std::sqrt(3.0), 1e-12);
  expect_interval_brackets(e);
  EXPECT_GE(*e.ci_low, 0.0);
  EXPECT_LE(*e.ci_high, 1.0);
  const auto h = aggregate_metric("hangul_share", {with_value("hangul_share", 0.9), with_value("hangul_share", 0.7)});
  EXPECT_NEAR(*h.value, 0.8, 1e-12);
}

TEST(Metrics, CharacterRougeLAndChrfAreBootstrappedMeans) {
  std::vector<SampleScore> s;
  for (double v : {0.5, 1.0, 0.0, 0.75}) {
    SampleScore x;
    x.values["rouge_l"] = v;
    x.values["chrf"] = v / 2;
    s.push_back(x);
  }
  const auto r = aggregate_metric("rouge_l", s);
  EXPECT_EQ(r.n, 4);
  EXPECT_DOUBLE_EQ(*r.value, 0.5625);
  expect_interval_brackets(r);
  EXPECT_TRUE(r.stderr_value);
  const auto c = aggregate_metric("chrf", s);
  EXPECT_DOUBLE_EQ(*c.value, 0.28125);
  for (const char* m : {"rouge_l", "chrf"}) {
    ASSERT_NE(find_metric(m), nullptr) << m;
    EXPECT_EQ(find_metric(m)->estimator, Estimator::mean);
    EXPECT_TRUE(find_metric(m)->higher_is_better);
  }
}

TEST(Metrics, BootstrapIsSeeded) {
  std::vector<SampleScore> s;
  for (int i = 0; i < 50; ++i) s.push_back(with_value("f1", (i * 37 % 11) / 10.0));
  const auto a = aggregate_metric("f1", s, 7);
  const auto b = aggregate_metric("f1", s, 7);
  const auto c = aggregate_metric("f1", s, 8);
  EXPECT_EQ(*a.ci_low, *b.ci_low);
  EXPECT_EQ(*a.ci_high, *b.ci_high);
  EXPECT_TRUE(*a.ci_low != *c.ci_low || *a.ci_high != *c.ci_high);
}

TEST(Metrics, InfosAndUnknownNames) {
  for (const char* m : {"acc", "acc_norm", "macro_f1", "em", "f1", "pearson", "spearman", "binary_f1",
                        "acc_ambiguous", "diff_bias_ambiguous", "acc_disambiguated", "diff_bias_disambiguated",
                        "exam_points", "hangul_share"}) {
    ASSERT_NE(find_metric(m), nullptr) << m;
    EXPECT_NO_THROW(aggregate_metric(m, {})) << m;
  }
  EXPECT_EQ(find_metric("acc")->estimator, Estimator::proportion);
  EXPECT_EQ(find_metric("f1")->estimator, Estimator::mean);
  EXPECT_EQ(find_metric("pearson")->estimator, Estimator::resampled);
  EXPECT_FALSE(find_metric("diff_bias_ambiguous")->higher_is_better);
  EXPECT_EQ(find_metric("accuracy"), nullptr);
  try {
    aggregate_metric("acc_nrom", {});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'acc_norm'"), std::string::npos) << e.what();
  }
  // Every metric a scorer advertises is known here.
  for (const auto& scorer : scorer_names())
    for (const auto& m : scorer_metrics(scorer)) EXPECT_NE(find_metric(m), nullptr) << scorer << ": " << m;
}

} // namespace
} // namespace keval
