// ROUGE-L and chrF over characters, on pairs small enough to compute by hand.
#include <gtest/gtest.h>

#include "text_metrics.h"

namespace keval {
namespace {

// "서울" decomposed into conjoining jamo.
const std::string k_nfd_seoul = "\xE1\x84\x89\xE1\x85\xA5\xE1\x84\x8B\xE1\x85\xAE\xE1\x86\xAF";

TEST(RougeLChars, HandComputed) {
  // LCS("서울특별시", "서울시") = 3 (서, 울, 시). P = 3/5, R = 3/3, F = 2·0.6·1 / 1.6 = 0.75.
  EXPECT_DOUBLE_EQ(rouge_l_chars("서울특별시", "서울시"), 0.75);
  // Symmetric in P and R, so the same F the other way round.
  EXPECT_DOUBLE_EQ(rouge_l_chars("서울시", "서울특별시"), 0.75);
  // 가나다라 vs 나가라다: LCS 2 (e.g. 가라). P = R = 1/2.
  EXPECT_DOUBLE_EQ(rouge_l_chars("가나다라", "나가라다"), 0.5);
  // 세종대왕 (4) in 조선의 세종대왕 (7 without the space): P = 1, R = 4/7, F = 8/11.
  EXPECT_DOUBLE_EQ(rouge_l_chars("세종대왕", "조선의 세종대왕"), 8.0 / 11.0);
}

TEST(RougeLChars, NormalisesFirst) {
  EXPECT_DOUBLE_EQ(rouge_l_chars("서울 특별시", "서울특별시"), 1.0);     // white space removed
  EXPECT_DOUBLE_EQ(rouge_l_chars(k_nfd_seoul, "서울"), 1.0);              // NFC
  EXPECT_DOUBLE_EQ(rouge_l_chars("ＡＢＣ", "abc"), 1.0);                   // full-width, case
  EXPECT_DOUBLE_EQ(rouge_l_chars("", "서울"), 0.0);
  EXPECT_DOUBLE_EQ(rouge_l_chars("서울", ""), 0.0);
  EXPECT_DOUBLE_EQ(rouge_l_chars("부산", "서울"), 0.0);
  EXPECT_DOUBLE_EQ(rouge_l_chars("\xFF", "\xFF"), 1.0);  // invalid bytes compare as U+FFFD, no crash
}

TEST(Chrf, HandComputed) {
  // hyp 서울시, ref 서울특별시, n = 6, beta = 2. Orders with n-grams on both sides: 1..3.
  //   1: P = 3/3, R = 3/5;  2: hyp {서울, 울시}, ref {서울, 울특, 특별, 별시}: P = 1/2, R = 1/4;
  //   3: no shared trigram: P = R = 0.
  // avg P = 1/2, avg R = 17/60; F2 = 5·(1/2)·(17/60) / (4·(1/2) + 17/60) = 85/274.
  EXPECT_NEAR(chrf("서울시", "서울특별시"), 85.0 / 274.0, 1e-12);
  // Unigrams only, beta 1: 가나 vs 나다 share 나: P = R = 1/2.
  EXPECT_NEAR(chrf("가나", "나다", 1, 1.0), 0.5, 1e-12);
  EXPECT_NEAR(chrf("한국어", "한국어"), 1.0, 1e-12);
}

TEST(Chrf, MatchesSacrebleuOnItsDocumentedExample) {
  // sacrebleu's CHRF() on this pair reports 61.576379378113785 (0..100).
  EXPECT_NEAR(chrf("The relationship between Obama and Netanyahu is not exactly friendly.",
                   "The ties between Obama and Netanyahu are not particularly friendly."),
              0.61576379378113785, 1e-12);
}

TEST(Chrf, EdgesAndNormalisation) {
  EXPECT_EQ(chrf("", "서울"), 0.0);
  EXPECT_EQ(chrf("서울", ""), 0.0);
  EXPECT_EQ(chrf("abc", "xyz"), 0.0);
  EXPECT_EQ(chrf("ABC", "abc"), 0.0);  // case is kept, as sacrebleu keeps it
  EXPECT_NEAR(chrf("서 울", "서울"), 1.0, 1e-12);
  EXPECT_NEAR(chrf(k_nfd_seoul, "서울"), 1.0, 1e-12);
  EXPECT_NEAR(chrf("\xFF\xFE", "\xFF\xFE"), 1.0, 1e-12);
}

TEST(TextMetrics, LongInputsStayCheap) {
  std::string a, b;
  for (int i = 0; i < 2000; ++i) {
    a += "가나다";
    b += "다나가";
  }
  const double r = rouge_l_chars(a, b);
  EXPECT_GT(r, 0.0);
  EXPECT_LT(r, 1.0);
  EXPECT_GT(chrf(a, b), 0.0);
}

} // namespace
} // namespace keval
