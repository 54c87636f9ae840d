// The normalisation module: comparison form, reasoning blocks, Hangul share, numbers.
#include <gtest/gtest.h>

#include "normalize.h"

namespace keval::normalize {
namespace {

// "정답" decomposed into conjoining jamo.
const std::string k_nfd_answer = "\xE1\x84\x8C\xE1\x85\xA5\xE1\x86\xBC\xE1\x84\x83\xE1\x85\xA1\xE1\x86\xB8";

TEST(Normalize, ForCompare) {
  EXPECT_EQ(for_compare(k_nfd_answer), "정답");
  EXPECT_EQ(for_compare("ＡＢＣ１２３！～"), "ABC123!~");
  EXPECT_EQ(for_compare("정답：Ｂ"), "정답:B");
  EXPECT_EQ(for_compare("가\u3000나"), "가 나");
  EXPECT_EQ(for_compare("  a \n\t b  "), "a b");
  EXPECT_EQ(for_compare("Case Stays"), "Case Stays");
  EXPECT_EQ(for_compare("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(for_compare(""), "");
}

TEST(Normalize, StripThink) {
  EXPECT_EQ(strip_think("<think>먼저 생각해 보면…</think>정답은 B"), "정답은 B");
  EXPECT_EQ(strip_think("<think>a</think> 가 <think>b</think> 나 "), "가  나");
  EXPECT_EQ(strip_think("<think>끝나지 않은 추론"), "");
  EXPECT_EQ(strip_think("  <think>끝나지 않은 추론"), "");
  EXPECT_EQ(strip_think("답: 3 <think>덧붙인 생각"), "답: 3");
  EXPECT_EQ(strip_think("템플릿이 연 추론</think>\n\n답: 3"), "답: 3");
  EXPECT_EQ(strip_think(" 그냥 답 "), "그냥 답");
  EXPECT_EQ(strip_think(""), "");
}

TEST(Normalize, HangulShare) {
  EXPECT_DOUBLE_EQ(hangul_share("한국어"), 1.0);
  EXPECT_DOUBLE_EQ(hangul_share("한국어 ABC"), 0.5);
  EXPECT_DOUBLE_EQ(hangul_share("123 !! ..."), 0.0);
  EXPECT_DOUBLE_EQ(hangul_share(""), 0.0);
  EXPECT_DOUBLE_EQ(hangul_share(k_nfd_answer), 1.0);  // 2 syllables after NFC, not 5 jamo
  EXPECT_DOUBLE_EQ(hangul_share("ㅋㅋ 좋아요 2024!"), 1.0);
  EXPECT_DOUBLE_EQ(hangul_share("漢字 한국"), 0.5);
  EXPECT_DOUBLE_EQ(hangul_share("Hello 세계"), 2.0 / 7.0);
}

TEST(Normalize, ParseArabicNumbers) {
  EXPECT_EQ(parse_number("1,000원"), 1000.0);
  EXPECT_EQ(parse_number("3개"), 3.0);
  EXPECT_EQ(parse_number("유사도는 3.5점입니다."), 3.5);
  EXPECT_EQ(parse_number("-2"), -2.0);
  EXPECT_EQ(parse_number("점수: -2.5"), -2.5);
  EXPECT_EQ(parse_number("A-2"), 2.0);
  EXPECT_EQ(parse_number("3-2"), 3.0);
  EXPECT_EQ(parse_number("４.５점"), 4.5);
  EXPECT_EQ(parse_number("12,345,678원"), 12345678.0);
  EXPECT_EQ(parse_number("1,2,3"), 1.0);
  EXPECT_EQ(parse_number("1,0000"), 1.0);
  EXPECT_EQ(parse_number("2023년 5월"), 2023.0);
  EXPECT_EQ(parse_number("−3"), -3.0);  // U+2212
  EXPECT_EQ(parse_number("삼십 또는 4"), 4.0);  // an Arabic digit wins over words
}

TEST(Normalize, ParseSinoKoreanNumbers) {
  EXPECT_EQ(parse_number("삼십"), 30.0);
  EXPECT_EQ(parse_number("백이십삼"), 123.0);
  EXPECT_EQ(parse_number("천"), 1000.0);
  EXPECT_EQ(parse_number("삼천오백만"), 35000000.0);
  EXPECT_EQ(parse_number("점수는 이십오점입니다"), 25.0);
  EXPECT_EQ(parse_number("삼십이다"), 30.0);
  EXPECT_EQ(parse_number("삼십이"), 32.0);
  EXPECT_EQ(parse_number("사점"), 4.0);  // a lone digit syllable only as the whole answer
  EXPECT_EQ(parse_number("만"), 10000.0);
}

TEST(Normalize, ParseNumbersReadsEveryNumber) {
  EXPECT_EQ(parse_numbers("3개씩 5묶음이면 15개"), (std::vector<double>{3, 5, 15}));
  EXPECT_EQ(parse_numbers("1,000원에서 -3을 빼면 1,003원"), (std::vector<double>{1000, -3, 1003}));
  EXPECT_EQ(parse_numbers("1.5배, 2.25배"), (std::vector<double>{1.5, 2.25}));
  EXPECT_EQ(parse_numbers("삼십"), (std::vector<double>{30}));
  EXPECT_TRUE(parse_numbers("숫자가 없습니다").empty());
  EXPECT_TRUE(parse_numbers("").empty());
  EXPECT_EQ(parse_number("1.5배"), 1.5);
  EXPECT_EQ(parse_number("3개"), 3.0);
}

TEST(Normalize, IsValidUtf8) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("정답은 B"));
  EXPECT_TRUE(is_valid_utf8(k_nfd_answer));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("정답\xC3"));          // truncated sequence
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));         // overlong "/"
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));     // surrogate
  EXPECT_FALSE(is_valid_utf8(std::string("\x80", 1)));
}

TEST(Normalize, ParseNumberTraps) {
  EXPECT_FALSE(parse_number("숫자가 없습니다"));
  EXPECT_FALSE(parse_number("이 문장은 매우 유사합니다"));  // 이 = "this"
  EXPECT_FALSE(parse_number("천천히 읽어 보세요"));
  EXPECT_FALSE(parse_number("구조가 비슷합니다"));
  EXPECT_FALSE(parse_number("백화점에 갔다"));
  EXPECT_FALSE(parse_number("이번에는 이점이 있다"));
  EXPECT_FALSE(parse_number(""));
  EXPECT_FALSE(parse_number("\xFF\xFE"));
}

} // namespace
} // namespace keval::normalize
