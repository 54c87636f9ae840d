// UTF-8 helpers: NFC, invalid input, white space, edit distance and "did you mean".
#include <gtest/gtest.h>

#include "text.h"

namespace keval::text {
namespace {

// "한국어" as conjoining jamo (NFD) and as syllables (NFC).
const std::string k_nfd_korean = "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB\xE1\x84\x80\xE1\x85\xAE\xE1\x86\xA8"
                                 "\xE1\x84\x8B\xE1\x85\xA5";
const std::string k_replacement = "\xEF\xBF\xBD";

TEST(Text, NfcComposesDecomposedHangul) {
  ASSERT_NE(k_nfd_korean, "한국어");
  bool invalid = true;
  EXPECT_EQ(nfc(k_nfd_korean, &invalid), "한국어");
  EXPECT_FALSE(invalid);
  EXPECT_EQ(nfc("한국어"), "한국어");
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");       // e + combining acute → é
  EXPECT_EQ(nfc("가\xE1\x86\xA8"), "각");          // syllable + trailing jamo composes
  EXPECT_EQ(nfc("ＡＢＣ"), "ＡＢＣ");                 // NFC keeps full-width forms (that is NFKC's job)
  EXPECT_EQ(nfc(""), "");
}

TEST(Text, InvalidUtf8BecomesReplacementCharacters) {
  bool invalid = false;
  EXPECT_EQ(nfc("a\xFF" "b", &invalid), "a" + k_replacement + "b");
  EXPECT_TRUE(invalid);
  std::string s = "\xC0\xAF";  // overlong '/'
  EXPECT_TRUE(make_valid_utf8(s));
  EXPECT_EQ(s, k_replacement + k_replacement);
  s = "\xED\xA0\x80";  // a UTF-16 surrogate
  EXPECT_TRUE(make_valid_utf8(s));
  EXPECT_EQ(s, k_replacement + k_replacement + k_replacement);
  s = "한\xEA\xB5";  // truncated at the end
  EXPECT_TRUE(make_valid_utf8(s));
  EXPECT_EQ(s, "한" + k_replacement);
  s = "정상";
  EXPECT_FALSE(make_valid_utf8(s));
  EXPECT_EQ(s, "정상");
  EXPECT_EQ(decode("\xF4\x90\x80\x80").front(), char32_t{0xFFFD});  // above U+10FFFF
}

TEST(Text, DecodeEncodeRoundTrip) {
  const auto cps = decode("a한😀");
  ASSERT_EQ(cps.size(), 3u);
  EXPECT_EQ(cps[0], U'a');
  EXPECT_EQ(cps[1], U'한');
  EXPECT_EQ(cps[2], char32_t{0x1F600});
  EXPECT_EQ(encode(cps), "a한😀");
  EXPECT_EQ(encode(U'가'), "가");
  EXPECT_EQ(encode(char32_t{0xD800}), k_replacement);
}

TEST(Text, CountsCodePointsNotBytes) {
  EXPECT_EQ(char_count("한국어abc"), 6u);
  EXPECT_EQ(char_count(""), 0u);
  EXPECT_EQ(char_count(k_nfd_korean), 8u);
  EXPECT_EQ(char_count("\xFF\xFF"), 2u);
}

TEST(Text, LowerCase) {
  EXPECT_EQ(lower("ABC Äß 한국"), "abc äß 한국");
  EXPECT_EQ(lower("ΣΑΣ"), "σασ");
}

TEST(Text, Classes) {
  EXPECT_TRUE(is_space(U' '));
  EXPECT_TRUE(is_space(char32_t{0x3000}));
  EXPECT_TRUE(is_space(char32_t{0xA0}));
  EXPECT_TRUE(is_space(U'\n'));
  EXPECT_FALSE(is_space(char32_t{0x200B}));  // zero-width space is not White_Space
  EXPECT_FALSE(is_space(U'a'));
  EXPECT_TRUE(is_hangul(U'한'));
  EXPECT_TRUE(is_hangul(U'ㄱ'));
  EXPECT_TRUE(is_hangul(char32_t{0x1100}));
  EXPECT_FALSE(is_hangul(U'A'));
  EXPECT_FALSE(is_hangul(U'漢'));
}

TEST(Text, WhiteSpace) {
  EXPECT_EQ(trim("\u3000 가나 \u00A0\n"), "가나");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(trim("a"), "a");
  EXPECT_EQ(split_whitespace("a  b\u3000c\n"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_whitespace("  \t ").empty());
  EXPECT_EQ(fold_whitespace(" 가 \n\t 나 "), "가 나");
  EXPECT_EQ(fold_whitespace(""), "");
}

TEST(Text, SplitAndFriends) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(split("가,나", ','), (std::vector<std::string>{"가", "나"}));
  EXPECT_TRUE(starts_with("정답은", "정답"));
  EXPECT_FALSE(starts_with("정", "정답"));
  EXPECT_TRUE(ends_with("file.yaml", ".yaml"));
  EXPECT_EQ(replace_all("aaa", "a", "bb"), "bbbbbb");
  EXPECT_EQ(replace_all("abc", "", "x"), "abc");
  EXPECT_EQ(replace_all("가나가", "가", "다"), "다나다");
  EXPECT_EQ(strip_bom("\xEF\xBB\xBFid"), "id");
  EXPECT_EQ(strip_bom("id"), "id");
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({}, ", "), "");
}

TEST(Text, EditDistanceCountsCodePoints) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("한국", "한극"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(Text, ClosestSuggestsTyposAndFragments) {
  const std::vector<std::string> names = {"multiple_choice", "kobbq", "korquad", "similarity", "dialogue"};
  auto near = closest("mutliple_choice", names);
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near.front(), "multiple_choice");
  near = closest("korqaud", names);
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near.front(), "korquad");
  near = closest("KOBBQ", names);
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near.front(), "kobbq");
  EXPECT_TRUE(closest("zzzzzz", names).empty());
  EXPECT_TRUE(closest("", names).empty());

  const std::vector<std::string> tasks = {"kmmlu_accounting", "kmmlu_biology", "kmmlu_chemistry", "kmmlu_law",
                                          "kobest_copa"};
  near = closest("kmmlu", tasks);
  EXPECT_EQ(near.size(), 3u);  // at most three
  for (const auto& n : near) EXPECT_TRUE(n.starts_with("kmmlu")) << n;
  near = closest("copa", tasks);
  ASSERT_EQ(near.size(), 1u);
  EXPECT_EQ(near.front(), "kobest_copa");
}

} // namespace
} // namespace keval::text

namespace keval {
namespace {

// Python's str.rstrip(): what lm-eval's _encode_pair moves from a context to its continuation.
TEST(Text, TrailingSpaceBytesAsPythonRstrip) {
  EXPECT_EQ(text::trailing_space_bytes("질문: 답변: "), 1u);
  EXPECT_EQ(text::trailing_space_bytes("정답："), 0u);            // U+FF1A, a full-width colon, is not a space
  EXPECT_EQ(text::trailing_space_bytes("문장\n\n \t"), 4u);
  EXPECT_EQ(text::trailing_space_bytes("문장\u3000\u00a0"), 5u);  // ideographic space (3 bytes), no-break space (2)
  EXPECT_EQ(text::trailing_space_bytes("문장\u200b"), 0u);        // zero-width space: not str.isspace()
  EXPECT_EQ(text::trailing_space_bytes(" 가 "), 1u);
  EXPECT_EQ(text::trailing_space_bytes(""), 0u);
  EXPECT_EQ(text::trailing_space_bytes("  "), 2u);
}

} // namespace
} // namespace keval
