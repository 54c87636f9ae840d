// Scorers: registry, SampleScore JSON, and each scorer on hand-checked samples.
#include <algorithm>

#include <gtest/gtest.h>

#include "answer_text.h"
#include "builtin_scorers.h"
#include "metrics.h"
#include "scorer.h"
#include "error.h"

namespace keval {
namespace {

ModelOutput generated(std::string text) {
  ModelOutput o;
  o.texts.push_back(std::move(text));
  return o;
}

// What a run gives scorers by default: the answer text, its <think> block removed.
ModelOutput answered(const std::string& raw) { return generated(answer_text(raw, ThinkPolicy::strip)); }

ModelOutput loglik(std::vector<double> logprobs) {
  ModelOutput o;
  o.loglikelihood = true;
  o.logprobs = std::move(logprobs);
  return o;
}

Sample choice_sample() {
  Sample s;
  s.task = "test_mc";
  s.id = "7";
  s.choice_texts = {"서울", "부산", "대구", "인천"};
  for (const auto& t : s.choice_texts) s.choices.push_back(" " + t);
  s.choice_labels = {"1", "2", "3", "4"};
  s.gold = 1;
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// --- registry ---------------------------------------------------------------------------------

TEST(ScorerRegistry, NamesAndMetrics) {
  const auto names = scorer_names();
  for (const char* n : {"multiple_choice", "kobbq", "korquad", "similarity", "dialogue", "numeric"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  const auto mc = scorer_metrics("multiple_choice");
  for (const char* m : {"acc", "acc_norm", "macro_f1", "exam_points"})
    EXPECT_NE(std::find(mc.begin(), mc.end(), m), mc.end()) << m;
  EXPECT_EQ(scorer_metrics("korquad"), (std::vector<std::string>{"em", "f1", "rouge_l", "chrf"}));
  EXPECT_EQ(scorer_metrics("numeric"), (std::vector<std::string>{"acc"}));
  EXPECT_EQ(scorer_metrics("dialogue"), (std::vector<std::string>{"hangul_share"}));
  for (const auto& n : names) {
    EXPECT_NE(make_scorer(n, nlohmann::json::object()), nullptr) << n;
    for (const auto& m : scorer_metrics(n)) EXPECT_NE(find_metric(m), nullptr) << n << ": " << m;
  }
  EXPECT_NE(make_scorer("korquad", nullptr), nullptr);
}

TEST(ScorerRegistry, UnknownNamesSuggestTheClosest) {
  EXPECT_NE(error_of([] { make_scorer("multiple_choise", {}); }).find("did you mean 'multiple_choice'"),
            std::string::npos);
  EXPECT_NE(error_of([] { scorer_metrics("korqaud"); }).find("did you mean 'korquad'"), std::string::npos);
  const std::string opt = error_of([] { make_scorer("multiple_choice", {{"point_field", "score"}}); });
  EXPECT_NE(opt.find("unknown option 'point_field'"), std::string::npos) << opt;
  EXPECT_NE(opt.find("did you mean 'points_field'"), std::string::npos) << opt;
  EXPECT_NE(error_of([] { make_scorer("korquad", {{"x", 1}}); }).find("unknown option 'x'"), std::string::npos);
}

TEST(ScorerRegistry, OptionTypesAreChecked) {
  EXPECT_NE(error_of([] { make_scorer("similarity", {{"binary_threshold", "three"}}); }).find("must be a number"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_scorer("similarity", {{"min", 5}, {"max", 0}}); }).find("below max"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_scorer("multiple_choice", {{"points_field", 3}}); }).find("must be a string"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_scorer("kobbq", {{"unknown_texts", "알 수 없음"}}); }).find("list of strings"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_scorer("korquad", nlohmann::json::array()); }).find("must be a map"),
            std::string::npos);
}

// --- SampleScore JSON -------------------------------------------------------------------------

TEST(SampleScoreJson, RoundTrip) {
  SampleScore s;
  s.values = {{"acc", 1.0}, {"acc_norm", 0.0}};
  s.predicted = 2;
  s.predicted_number = 3.5;
  s.extracted = "3번";
  s.unparsed = false;
  s.gold = 2;
  s.gold_number = 4.0;
  s.meta = {{"context", "ambiguous"}, {"points", 3}};
  const auto j = s.to_json();
  const SampleScore back = SampleScore::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.values, s.values);
  EXPECT_EQ(back.predicted, 2);
  EXPECT_EQ(back.predicted_number, 3.5);
  EXPECT_EQ(back.extracted, "3번");
  EXPECT_FALSE(back.unparsed);
  EXPECT_EQ(back.gold, 2);
  EXPECT_EQ(back.gold_number, 4.0);
  EXPECT_EQ(back.meta, s.meta);
}

TEST(SampleScoreJson, MissingFieldsTakeDefaultsAndNullsStayEmpty) {
  SampleScore s;
  const auto j = s.to_json();
  EXPECT_TRUE(j.at("predicted_number").is_null());
  EXPECT_TRUE(j.at("gold_number").is_null());
  const SampleScore back = SampleScore::from_json(nlohmann::json::object());
  EXPECT_EQ(back.predicted, -1);
  EXPECT_EQ(back.gold, -1);
  EXPECT_FALSE(back.predicted_number);
  EXPECT_TRUE(back.values.empty());
  EXPECT_TRUE(back.meta.is_object());
}

TEST(SampleScoreJson, MalformedIsAnInputError) {
  EXPECT_THROW(SampleScore::from_json(nlohmann::json::array()), InputError);
  EXPECT_THROW(SampleScore::from_json({{"values", {{"acc", "yes"}}}}), InputError);
  EXPECT_THROW(SampleScore::from_json({{"predicted", "two"}}), InputError);
  EXPECT_THROW(SampleScore::from_json({{"gold_number", "4"}}), InputError);
  EXPECT_THROW(SampleScore::from_json({{"meta", 3}}), InputError);
}

// --- multiple_choice --------------------------------------------------------------------------

TEST(MultipleChoice, LoglikAccAndLengthNormalisedAcc) {
  auto scorer = make_scorer("multiple_choice", {});
  Sample s = choice_sample();
  s.choice_texts = {"가나다라마바", "가", "가나", "가나다"};
  s.choices = {" 가나다라마바", " 가", " 가나", " 가나다"};  // continuations: the delimiter is not counted
  s.gold = 0;
  // Raw argmax: choice 1 (-1.0). Per character: -3/6 = -0.5 beats -1/1, -2/2, -4/3: choice 0.
  const auto r = scorer->score(s, loglik({-3.0, -1.0, -2.0, -4.0}));
  EXPECT_EQ(r.predicted, 1);
  EXPECT_EQ(r.values.at("acc"), 0.0);
  EXPECT_EQ(r.values.at("acc_norm"), 1.0);
  EXPECT_EQ(r.meta.at("predicted_norm"), 0);
  EXPECT_EQ(r.extracted, "2");
  EXPECT_EQ(r.gold, 0);
  EXPECT_FALSE(r.unparsed);
}

TEST(MultipleChoice, LabelContinuationsNormaliseByTheLabel) {
  // KMMLU and CLIcK score " A"…" D": every continuation has one character, so acc_norm = acc
  // however long the choices' texts are.
  auto scorer = make_scorer("multiple_choice", {});
  Sample s = choice_sample();
  s.choice_texts = {"가나다라마바", "가", "가나", "가나다"};
  s.choices = {" A", " B", " C", " D"};
  s.gold = 1;
  const auto r = scorer->score(s, loglik({-3.0, -1.0, -2.0, -4.0}));
  EXPECT_EQ(r.values.at("acc"), 1.0);
  EXPECT_EQ(r.values.at("acc_norm"), 1.0);
}

TEST(MultipleChoice, AccNormDividesByTheChoiceAsLmEvalDoes) {
  // lm-eval (task.py process_results): lls / len(choice), the choice without the target
  // delimiter, its own spaces counted and Hangul counted as code points, not bytes.
  auto scorer = make_scorer("multiple_choice", {});
  Sample s = choice_sample();
  s.target_delimiter = " ";
  s.choice_texts = {"예  ", "아니오"};
  s.choices = {"  예  ", " 아니오"};  // choice 0 has its own leading space: 4 code points after the delimiter
  s.choice_labels = {"A", "B"};
  s.gold = 0;
  // -3.5 / 4 = -0.875 beats -3.0 / 3 = -1.0; trimming choice 0 to "예" (1) would give -3.5 and lose.
  const auto r = scorer->score(s, loglik({-3.5, -3.0}));
  EXPECT_EQ(r.predicted, 1);
  EXPECT_EQ(r.meta.at("predicted_norm"), 0);
  EXPECT_EQ(r.values.at("acc_norm"), 1.0);
}

TEST(MultipleChoice, LoglikTiesGoToTheFirstChoiceAndBadInputIsUnparsed) {
  auto scorer = make_scorer("multiple_choice", {});
  Sample s = choice_sample();
  EXPECT_EQ(scorer->score(s, loglik({-1.0, -1.0, -2.0, -3.0})).predicted, 0);
  const auto wrong_count = scorer->score(s, loglik({-1.0, -2.0}));
  EXPECT_TRUE(wrong_count.unparsed);
  EXPECT_EQ(wrong_count.values.at("acc"), 0.0);
}

TEST(MultipleChoice, GenerationExtractsTheAnswer) {
  auto scorer = make_scorer("multiple_choice", {});
  const Sample s = choice_sample();
  auto r = scorer->score(s, generated("1번은 틀렸고 2번이 정답입니다."));
  EXPECT_EQ(r.predicted, 1);
  EXPECT_EQ(r.values.at("acc"), 1.0);
  EXPECT_EQ(r.values.at("acc_norm"), 1.0);
  EXPECT_EQ(r.extracted, "2");
  EXPECT_FALSE(r.unparsed);

  r = scorer->score(s, generated("잘 모르겠어요."));
  EXPECT_EQ(r.predicted, -1);
  EXPECT_TRUE(r.unparsed);
  EXPECT_EQ(r.values.at("acc"), 0.0);
  EXPECT_EQ(r.extracted, "");

  r = scorer->score(s, ModelOutput{});
  EXPECT_TRUE(r.unparsed);
}

TEST(MultipleChoice, PointsField) {
  auto scorer = make_scorer("multiple_choice", {{"points_field", "score"}});
  Sample s = choice_sample();
  s.fields = {{"score", 3}};
  EXPECT_EQ(scorer->score(s, generated("2")).meta.at("points"), 3.0);
  s.fields = {{"score", "2"}};
  EXPECT_EQ(scorer->score(s, generated("2")).meta.at("points"), 2.0);
  s.fields = nlohmann::json::object();
  EXPECT_THROW(scorer->score(s, generated("2")), InputError);
}

// --- kobbq ------------------------------------------------------------------------------------

Sample kobbq_sample(const std::string& id, const std::string& biased, const std::string& answer) {
  Sample s;
  s.task = "kobbq";
  s.id = id;
  s.choice_texts = {"손자", "할머니", "알 수 없음"};
  s.choice_labels = {"A", "B", "C"};
  for (size_t i = 0; i < s.choice_texts.size(); ++i)
    if (s.choice_texts[i] == answer) s.gold = static_cast<int>(i);
  s.fields = {{"sample_id", id},
              {"choices", s.choice_texts},
              {"biased_answer", biased},
              {"answer", answer}};
  return s;
}

TEST(Kobbq, AmbiguousMeta) {
  auto scorer = make_scorer("kobbq", {});
  const auto r = scorer->score(kobbq_sample("age-001a-002-amb-bsd", "할머니", "알 수 없음"), generated("B"));
  EXPECT_EQ(r.meta.at("context"), "ambiguous");
  EXPECT_EQ(r.meta.at("biased_index"), 1);
  EXPECT_EQ(r.meta.at("unknown_index"), 2);
  EXPECT_EQ(r.meta.at("counter_biased_index"), 0);
  EXPECT_EQ(r.meta.at("gold_is_biased"), false);
  EXPECT_EQ(r.predicted, 1);
  EXPECT_EQ(r.values.at("acc"), 0.0);
}

TEST(Kobbq, DisambiguatedMeta) {
  auto scorer = make_scorer("kobbq", {});
  auto r = scorer->score(kobbq_sample("age-001a-002-dis-bsd", "할머니", "손자"), generated("A"));
  EXPECT_EQ(r.meta.at("context"), "disambiguated");
  EXPECT_EQ(r.meta.at("biased_index"), 1);
  EXPECT_EQ(r.meta.at("unknown_index"), 2);
  EXPECT_EQ(r.meta.at("counter_biased_index"), 0);
  EXPECT_EQ(r.meta.at("gold_is_biased"), false);
  EXPECT_EQ(r.values.at("acc"), 1.0);

  r = scorer->score(kobbq_sample("age-001a-002-dis-cnt", "손자", "손자"), generated("정답: C"));
  EXPECT_EQ(r.meta.at("gold_is_biased"), true);
  EXPECT_EQ(r.meta.at("unknown_index"), 2);
  EXPECT_EQ(r.meta.at("counter_biased_index"), 1);
  EXPECT_EQ(r.predicted, 2);
}

TEST(Kobbq, UnknownOptionByElimination) {
  // A phrasing not in the list: found as the choice that is neither the answer nor the biased one.
  auto scorer = make_scorer("kobbq", {});
  Sample s = kobbq_sample("age-001a-002-dis-bsd", "할머니", "손자");
  s.choice_texts[2] = "판단 불가";
  EXPECT_EQ(scorer->score(s, generated("A")).meta.at("unknown_index"), 2);
  // … but not when answer == biased: then unknown_texts must name it.
  Sample t = kobbq_sample("age-001a-002-dis-cnt", "손자", "손자");
  t.choice_texts[2] = "판단 불가";
  EXPECT_THROW(scorer->score(t, generated("A")), InputError);
  auto configured = make_scorer("kobbq", {{"unknown_texts", {"판단 불가"}}});
  EXPECT_EQ(configured->score(t, generated("A")).meta.at("unknown_index"), 2);
}

TEST(Kobbq, BadRowsAreInputErrors) {
  auto scorer = make_scorer("kobbq", {});
  EXPECT_THROW(scorer->score(kobbq_sample("age-001a-002-xyz-bsd", "할머니", "알 수 없음"), generated("A")),
               InputError);
  EXPECT_THROW(scorer->score(kobbq_sample("age-001a-002-amb-bsd", "아들", "알 수 없음"), generated("A")),
               InputError);
}

// --- korquad ----------------------------------------------------------------------------------

TEST(Korquad, OfficialNormalisationAndCharacterF1) {
  using detail::korquad_exact_match;
  using detail::korquad_f1;
  EXPECT_EQ(korquad_exact_match("세종대왕", "세종대왕"), 1.0);
  EXPECT_EQ(korquad_f1("세종대왕", "세종대왕"), 1.0);
  // 7 predicted characters, 4 gold, 4 shared: P = 4/7, R = 1, F1 = 8/11.
  EXPECT_EQ(korquad_exact_match("조선의 세종대왕", "세종대왕"), 0.0);
  EXPECT_NEAR(korquad_f1("조선의 세종대왕", "세종대왕"), 8.0 / 11.0, 1e-12);
  // Repeated characters count through a multiset: 가가나 vs 가나나 share 가 once and 나 once.
  EXPECT_NEAR(korquad_f1("가가나", "가나나"), 2.0 / 3.0, 1e-12);
  EXPECT_EQ(korquad_exact_match("《훈민정음》", "훈민정음"), 1.0);
  EXPECT_EQ(korquad_exact_match("‘훈민정음’", "(훈민정음)"), 1.0);
  EXPECT_EQ(korquad_exact_match("1,000원", "1000원"), 1.0);   // ASCII punctuation dropped
  EXPECT_EQ(korquad_exact_match("ABC", "abc"), 1.0);
  EXPECT_EQ(korquad_exact_match("1 000원", "1000원"), 0.0);   // spaces separate tokens
  EXPECT_EQ(korquad_f1("1 000원", "1000원"), 1.0);            // but not characters
  EXPECT_EQ(korquad_exact_match("「훈민정음」", "훈민정음"), 0.0); // not in the official list
  EXPECT_EQ(korquad_f1("", "세종"), 0.0);
  EXPECT_EQ(korquad_f1("다른 답", "세종"), 0.0);
  // NFD prediction, NFC reference.
  const std::string nfd = "\xE1\x84\x89\xE1\x85\xA6\xE1\x84\x8C\xE1\x85\xA9\xE1\x86\xBC";  // 세종
  EXPECT_EQ(korquad_exact_match(nfd, "세종"), 1.0);
}

TEST(Korquad, ScorerTakesTheBestReference) {
  auto scorer = make_scorer("korquad", {});
  Sample s;
  s.references = {"세종", "조선의 세종대왕"};
  auto r = scorer->score(s, answered("<think>누구일까</think> 세종대왕 "));
  EXPECT_EQ(r.values.at("em"), 0.0);
  // vs 세종: P = 2/4, R = 1 → 2/3; vs 조선의세종대왕: P = 1, R = 4/7 → 8/11 (the max).
  EXPECT_NEAR(r.values.at("f1"), 8.0 / 11.0, 1e-12);
  EXPECT_EQ(r.extracted, "세종대왕");
  EXPECT_FALSE(r.unparsed);
  r = scorer->score(s, generated("세종"));
  EXPECT_EQ(r.values.at("em"), 1.0);
  r = scorer->score(s, answered("<think>끝나지 않음"));
  EXPECT_TRUE(r.unparsed);
  EXPECT_EQ(r.values.at("f1"), 0.0);
  // The scorer strips nothing itself: a kept reasoning block (--keep-think) is scored as text.
  r = scorer->score(s, generated("<think>세종</think>세종"));
  EXPECT_EQ(r.values.at("em"), 0.0);
  EXPECT_EQ(scorer->score(s, answered("<think>세종</think>세종")).values.at("em"), 1.0);
}

TEST(Korquad, CharacterRougeLAndChrfBesideEmAndF1) {
  auto scorer = make_scorer("korquad", {});
  Sample s;
  s.references = {"서울시"};
  const auto r = scorer->score(s, generated("서울특별시"));
  EXPECT_DOUBLE_EQ(r.values.at("rouge_l"), 0.75);  // LCS 3: P = 3/5, R = 1
  EXPECT_GT(r.values.at("chrf"), 0.0);
  EXPECT_LT(r.values.at("chrf"), 1.0);
  const auto exact = scorer->score(s, generated("서울시"));
  EXPECT_DOUBLE_EQ(exact.values.at("rouge_l"), 1.0);
  EXPECT_DOUBLE_EQ(exact.values.at("chrf"), 1.0);
  EXPECT_FALSE(exact.meta.contains("invalid_utf8"));
}

// --- invalid UTF-8 ------------------------------------------------------------------------------

TEST(InvalidUtf8, IsReplacedScoredAndFlagged) {
  const std::string bad = std::string("\xFF\xFE") + "정답은 2번입니다" + "\xC3";
  auto mc = make_scorer("multiple_choice", {});
  auto r = mc->score(choice_sample(), generated(bad));
  EXPECT_EQ(r.predicted, 1);
  EXPECT_EQ(r.meta.at("invalid_utf8"), true);
  EXPECT_FALSE(mc->score(choice_sample(), generated("2")).meta.contains("invalid_utf8"));

  Sample q;
  q.references = {"세종"};
  r = make_scorer("korquad", {})->score(q, generated("세종\x80"));
  EXPECT_EQ(r.meta.at("invalid_utf8"), true);
  EXPECT_GT(r.values.at("f1"), 0.0);

  Sample sts;
  sts.gold_number = 3.0;
  EXPECT_EQ(make_scorer("similarity", {})->score(sts, generated("\xF0\x28 3점")).meta.at("invalid_utf8"), true);
  ModelOutput turns;
  turns.texts = {"안녕하세요", "\xED\xA0\x80"};  // an encoded surrogate is not UTF-8
  EXPECT_EQ(make_scorer("dialogue", {})->score(Sample{}, turns).meta.at("invalid_utf8"), true);
  Sample math;
  math.gold_number = 15;
  EXPECT_EQ(make_scorer("numeric", {})->score(math, generated("답: 15\xFF")).meta.at("invalid_utf8"), true);
}

// --- numeric --------------------------------------------------------------------------------------

Sample numeric_sample(double gold) {
  Sample s;
  s.gold_number = gold;
  return s;
}

TEST(Numeric, ReadsTheAnswerWhereModelsPutIt) {
  auto scorer = make_scorer("numeric", {});
  auto acc = [&](double gold, const std::string& text) {
    return scorer->score(numeric_sample(gold), generated(text)).values.at("acc");
  };
  EXPECT_EQ(acc(15, "3개씩 5묶음이면 모두 15개입니다."), 1.0);              // the last number
  EXPECT_EQ(acc(1000, "답: 1,000원"), 1.0);
  EXPECT_EQ(acc(30, "정답은 삼십입니다."), 1.0);
  EXPECT_EQ(acc(-3, "따라서 \\boxed{-3}"), 1.0);
  EXPECT_EQ(acc(1.5, "풀이 생략\n#### 1.5"), 1.0);
  EXPECT_EQ(acc(1.5, "정답은 1.5배입니다."), 1.0);
  EXPECT_EQ(acc(12, "답은 12입니다. 참고로 3 × 4 = 12이고 2023년 기출입니다."), 1.0);  // the cue wins
  EXPECT_EQ(acc(12, "The answer is 12, since 3 times 4 is 12 (checked in 2024)."), 1.0);
  EXPECT_EQ(scorer->score(numeric_sample(12), answered("<think>답은 13인가?</think>12")).values.at("acc"), 1.0);
  EXPECT_EQ(acc(12, "12 <think>답은 13인가?</think>"), 0.0);  // kept (--keep-think): its last number is 13
  EXPECT_EQ(acc(12, "정답: １２개"), 1.0);
  EXPECT_EQ(acc(12, "답: 13"), 0.0);

  const auto r = scorer->score(numeric_sample(15), generated("모두 15개"));
  EXPECT_EQ(r.predicted_number, 15.0);
  EXPECT_EQ(r.gold_number, 15.0);
  EXPECT_EQ(r.extracted, "15");
  EXPECT_FALSE(r.unparsed);
}

TEST(Numeric, CuePositionsSurviveTextWhoseLowerCaseChangesLength) {
  // Found by the numeric_answer fuzzer: positions found in the Unicode-lower-cased text were read
  // in the original, past its end when invalid bytes (each lower-cased to a 3-byte U+FFFD) or
  // letters such as "Ⱥ" (2 bytes, 3 lower-cased) came first: std::out_of_range, an internal error.
  auto scorer = make_scorer("numeric", {});
  auto invalid = scorer->score(numeric_sample(5), generated(std::string(20, '\xFF') + " 답: 5"));
  EXPECT_EQ(invalid.predicted_number, 5.0);
  auto cased = scorer->score(numeric_sample(7), generated("ȺȺȺȺȺȺȺȺȺȺ 2개와 5개, 정답은 7개"));
  EXPECT_EQ(cased.predicted_number, 7.0);
  EXPECT_EQ(scorer->score(numeric_sample(12), generated("THE ANSWER IS 12, not 13")).values.at("acc"), 1.0);
}

TEST(Numeric, UnparsedTolerancesAndGold) {
  auto scorer = make_scorer("numeric", {});
  auto r = scorer->score(numeric_sample(3), generated("잘 모르겠습니다."));
  EXPECT_TRUE(r.unparsed);
  EXPECT_EQ(r.values.at("acc"), 0.0);
  EXPECT_TRUE(scorer->score(numeric_sample(3), ModelOutput{}).unparsed);

  EXPECT_EQ(scorer->score(numeric_sample(3.14), generated("3.1416")).values.at("acc"), 0.0);
  auto loose = make_scorer("numeric", {{"tolerance", 0.01}});
  EXPECT_EQ(loose->score(numeric_sample(3.14), generated("3.1416")).values.at("acc"), 1.0);
  auto relative = make_scorer("numeric", {{"relative_tolerance", 0.01}});
  EXPECT_EQ(relative->score(numeric_sample(1000), generated("1,009")).values.at("acc"), 1.0);
  EXPECT_EQ(relative->score(numeric_sample(1000), generated("1,011")).values.at("acc"), 0.0);

  Sample by_reference;
  by_reference.references = {"42개"};
  EXPECT_EQ(scorer->score(by_reference, generated("답: 42")).values.at("acc"), 1.0);
  EXPECT_THROW(scorer->score(Sample{}, generated("42")), InputError);
  EXPECT_THROW(make_scorer("numeric", {{"tolerance", -1}}), InputError);
  EXPECT_THROW(make_scorer("numeric", {{"tolerance", "small"}}), InputError);
}

// --- similarity -------------------------------------------------------------------------------

TEST(Similarity, ParsesClampsAndThresholds) {
  auto scorer = make_scorer("similarity", {});
  Sample s;
  s.gold_number = 4.0;
  auto r = scorer->score(s, generated("두 문장의 유사도는 3.5점입니다."));
  EXPECT_EQ(r.predicted_number, 3.5);
  EXPECT_EQ(r.gold_number, 4.0);
  EXPECT_EQ(r.values.at("predicted_positive"), 1.0);
  EXPECT_EQ(r.values.at("gold_positive"), 1.0);
  EXPECT_EQ(r.extracted, "3.5");
  EXPECT_EQ(scorer->score(s, generated("7점")).predicted_number, 5.0);
  EXPECT_EQ(scorer->score(s, generated("-1")).predicted_number, 0.0);
  EXPECT_EQ(scorer->score(s, generated("삼")).predicted_number, 3.0);
  r = scorer->score(s, generated("판단하기 어렵습니다"));
  EXPECT_TRUE(r.unparsed);
  EXPECT_FALSE(r.predicted_number);
  EXPECT_EQ(r.values.count("predicted_positive"), 0u);

  auto strict = make_scorer("similarity", {{"min", 0}, {"max", 1}, {"binary_threshold", 0.5}});
  s.gold_number = 0.2;
  r = strict->score(s, generated("0.7"));
  EXPECT_EQ(r.values.at("predicted_positive"), 1.0);
  EXPECT_EQ(r.values.at("gold_positive"), 0.0);
}

// --- dialogue ---------------------------------------------------------------------------------

TEST(Dialogue, HangulShareOverTurns) {
  auto scorer = make_scorer("dialogue", {});
  ModelOutput o;
  o.texts = {"안녕하세요", answer_text("<think>thinking in English</think>Hello 세계", ThinkPolicy::strip)};
  const auto r = scorer->score(Sample{}, o);
  EXPECT_NEAR(r.values.at("hangul_share"), (1.0 + 2.0 / 7.0) / 2.0, 1e-12);
  EXPECT_FALSE(r.unparsed);
  EXPECT_EQ(scorer->score(Sample{}, ModelOutput{}).values.at("hangul_share"), 0.0);
}

} // namespace
} // namespace keval
