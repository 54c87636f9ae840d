// Answer extraction from generated text: a table of realistic responses, traps included.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "extract_choice.h"

namespace {

using Strings = std::vector<std::string>;

const Strings k_abcd = {"A", "B", "C", "D"};
const Strings k_accounting = {"재무상태표", "손익계산서", "현금흐름표", "자본변동표"};
const Strings k_numbers = {"1", "2", "3", "4", "5"};
const Strings k_circled = {"①", "②", "③", "④", "⑤"};
const Strings k_cities = {"서울", "부산", "대구", "인천", "광주"};
const Strings k_ganada = {"가", "나", "다", "라", "마"};
const Strings k_fruits = {"사과", "배", "포도", "귤", "감"};
const Strings k_none = {};
const Strings k_yes_no = {"아니오", "예"};
const Strings k_sentiment = {"부정", "긍정"};
const Strings k_truth = {"거짓", "참"};
const Strings k_abc = {"A", "B", "C"};
const Strings k_kobbq = {"손자", "할머니", "알 수 없음"};

struct Case {
  std::string response;
  const Strings* labels;
  const Strings* choices;
  int expected;
};

// Decomposed (NFD) "정답은 B" and "부정": conjoining jamo must compare equal to syllables.
const std::string k_nfd_answer = "\xE1\x84\x8C\xE1\x85\xA5\xE1\x86\xBC\xE1\x84\x83\xE1\x85\xA1\xE1\x86\xB8"
                                 "\xE1\x84\x8B\xE1\x85\xB3\xE1\x86\xAB B";
const std::string k_nfd_negative = "\xE1\x84\x87\xE1\x85\xAE\xE1\x84\x8C\xE1\x85\xA5\xE1\x86\xBC";

const std::vector<Case> k_cases = {
    // --- A–D with accounting choices -------------------------------------------------------
    {"B", &k_abcd, &k_accounting, 1},
    {"b", &k_abcd, &k_accounting, 1},
    {"(C)", &k_abcd, &k_accounting, 2},
    {"B.", &k_abcd, &k_accounting, 1},
    {"**B**", &k_abcd, &k_accounting, 1},
    {"  \n  B  \n", &k_abcd, &k_accounting, 1},
    {"Ｃ", &k_abcd, &k_accounting, 2},
    {"Ｂ입니다", &k_abcd, &k_accounting, 1},
    {"정답은 C", &k_abcd, &k_accounting, 2},
    {"정답은 C입니다.", &k_abcd, &k_accounting, 2},
    {"정답: D", &k_abcd, &k_accounting, 3},
    {"정답：D", &k_abcd, &k_accounting, 3},
    {"답변: A", &k_abcd, &k_accounting, 0},
    {"최종 정답: **C**", &k_abcd, &k_accounting, 2},
    {"정답은 (B) 손익계산서입니다.", &k_abcd, &k_accounting, 1},
    {"정답 번호는 C입니다.", &k_abcd, &k_accounting, 2},
    {"정답은 바로 D입니다!", &k_abcd, &k_accounting, 3},
    {k_nfd_answer, &k_abcd, &k_accounting, 1},
    {"The answer is A.", &k_abcd, &k_accounting, 0},
    {"The correct answer is (D).", &k_abcd, &k_accounting, 3},
    {"Answer: B", &k_abcd, &k_accounting, 1},
    {"answer: c", &k_abcd, &k_accounting, 2},
    {"The answer to this question is D.", &k_abcd, &k_accounting, 3},
    {"Answer: The answer is C", &k_abcd, &k_accounting, 2},
    {"(B) is the correct answer.", &k_abcd, &k_accounting, 1},
    {"C is correct.", &k_abcd, &k_accounting, 2},
    {"B. 손익계산서", &k_abcd, &k_accounting, 1},
    {"B) 손익계산서입니다", &k_abcd, &k_accounting, 1},
    {"C\n\n현금흐름표는 영업, 투자, 재무활동으로 나뉩니다.", &k_abcd, &k_accounting, 2},
    {"D 자본변동표", &k_abcd, &k_accounting, 3},
    {"B (손익계산서)", &k_abcd, &k_accounting, 1},
    {"A + B 형태로 계산하면 알 수 있습니다.", &k_abcd, &k_accounting, -1},
    {"The answer is B, not C.", &k_abcd, &k_accounting, 1},
    {"정답은 B입니다 (C는 오답).", &k_abcd, &k_accounting, 1},
    {"정답은 A이고, 그 이유는 B 때문입니다.", &k_abcd, &k_accounting, 0},
    {"손익계산서", &k_abcd, &k_accounting, 1},
    {"손익계산서입니다.", &k_abcd, &k_accounting, 1},
    {"정답은 B입니다. A는 자산과 부채를 보여 주므로 틀렸습니다.", &k_abcd, &k_accounting, 1},
    {"A는 틀렸고 C가 정답입니다.", &k_abcd, &k_accounting, 2},
    {"정답은 A가 아니라 D입니다.", &k_abcd, &k_accounting, 3},
    {"A는 정답이 아니고 B가 맞습니다.", &k_abcd, &k_accounting, 1},
    {"B가 맞습니다.", &k_abcd, &k_accounting, 1},
    {"B를 고르겠습니다.", &k_abcd, &k_accounting, 1},
    {"B가 가장 적절합니다.", &k_abcd, &k_accounting, 1},
    {"가장 적절한 것은 B입니다.", &k_abcd, &k_accounting, 1},
    {"A는 적절한 설명입니다. B는 적절하지 않습니다. 따라서 정답은 B", &k_abcd, &k_accounting, 1},
    {"I would choose B.", &k_abcd, &k_accounting, 1},
    {"### 정답\nB\n\n### 해설\nA는 시점 개념이므로 오답입니다.", &k_abcd, &k_accounting, 1},
    {"이 문제는 회계의 기본 개념을 묻습니다.\n\nA. 재무상태표: 특정 시점\nB. 손익계산서: 일정 기간\n"
     "C. 현금흐름표: 현금\nD. 자본변동표: 자본\n\n따라서 정답은 B입니다.",
     &k_abcd, &k_accounting, 1},
    {"A가 아닌 B가 정답이다.", &k_abcd, &k_accounting, 1},
    {"정답은 B, C 둘 다 가능합니다.", &k_abcd, &k_accounting, -1},
    {"B와 C가 모두 정답입니다.", &k_abcd, &k_accounting, -1},
    {"A가 맞는지 먼저 확인해 보겠습니다. 아닙니다. 정답은 C입니다.", &k_abcd, &k_accounting, 2},
    {"A, B, C, D 중에서 정답은 D입니다.", &k_abcd, &k_accounting, 3},
    {"각 보기를 검토하면 A는 자산, B는 수익과 비용을 다룹니다. 따라서 답은 B", &k_abcd, &k_accounting, 1},
    {"2023년 개정된 기준에 따르면 정답은 A입니다.", &k_abcd, &k_accounting, 0},
    {"A good way to think about this is cash flow. The answer is C.", &k_abcd, &k_accounting, 2},
    {"Based on the passage, the answer is B.", &k_abcd, &k_accounting, 1},
    {"Option B is wrong; the answer is C", &k_abcd, &k_accounting, 2},
    {"<think>A일까? 아니면 B? 음...</think>정답은 D입니다.", &k_abcd, &k_accounting, 3},
    {"분석해 보겠습니다. A는 아닙니다.</think>B", &k_abcd, &k_accounting, 1},
    {"정답은 ③입니다.", &k_abcd, &k_accounting, 2},  // circled digits mean choice 3 whatever the labels
    // traps: conflicts, refusals, nothing
    {"정답은 A 또는 B입니다.", &k_abcd, &k_accounting, -1},
    {"정답은 A와 B입니다.", &k_abcd, &k_accounting, -1},
    {"정답은 A입니다. 다시 생각해 보니 정답은 C입니다.", &k_abcd, &k_accounting, -1},
    {"재무상태표와 손익계산서 중에서 고민됩니다.", &k_abcd, &k_accounting, -1},
    {"모르겠습니다.", &k_abcd, &k_accounting, -1},
    {"죄송하지만 이 질문에는 답변할 수 없습니다.", &k_abcd, &k_accounting, -1},
    {"A) 죄송하지만 답변할 수 없습니다.", &k_abcd, &k_accounting, -1},
    {"", &k_abcd, &k_accounting, -1},
    {"<think>A가 맞는 것 같다. 하지만", &k_abcd, &k_accounting, -1},
    {"the answer is a matter of interpretation", &k_abcd, &k_accounting, -1},
    {"정답은 없습니다.", &k_abcd, &k_accounting, -1},
    {"A와 B 모두 틀렸습니다.", &k_abcd, &k_accounting, -1},
    {"정답은 B가 아닙니다.", &k_abcd, &k_accounting, -1},
    {"Apple", &k_abcd, &k_accounting, -1},
    {"A. 재무상태표\nB. 손익계산서\nC. 현금흐름표\nD. 자본변동표", &k_abcd, &k_accounting, -1},
    {"I'm sorry, but I cannot answer this question.", &k_abcd, &k_accounting, -1},

    // --- 1–5 with city choices (KMMLU / CSAT style) -----------------------------------------
    {"3", &k_numbers, &k_cities, 2},
    {"3번", &k_numbers, &k_cities, 2},
    {"3번입니다.", &k_numbers, &k_cities, 2},
    {"(3)", &k_numbers, &k_cities, 2},
    {"3)", &k_numbers, &k_cities, 2},
    {"④", &k_numbers, &k_cities, 3},
    {"답: 4번", &k_numbers, &k_cities, 3},
    {"정답은 ②번", &k_numbers, &k_cities, 1},
    {"정답은 ３번", &k_numbers, &k_cities, 2},
    {"1번은 틀렸고 3번이 정답", &k_numbers, &k_cities, 2},
    {"정답은 2번이 아니라 4번입니다.", &k_numbers, &k_cities, 3},
    {"2023년에 3개의 도시가 선정되었으므로 정답은 5번입니다.", &k_numbers, &k_cities, 4},
    {"5번이 정답입니다.", &k_numbers, &k_cities, 4},
    {"정답은 3번, 대구입니다.", &k_numbers, &k_cities, 2},
    {"따라서 2번입니다.", &k_numbers, &k_cities, 1},
    {"3번을 선택합니다.", &k_numbers, &k_cities, 2},
    {"3번째 보기가 정답입니다.", &k_numbers, &k_cities, 2},
    {"①은 옳다. ②는 옳지 않다. 따라서 정답은 ②", &k_numbers, &k_cities, 1},
    {"보기 3번은 틀렸습니다. 정답은 4번입니다.", &k_numbers, &k_cities, 3},
    {"정답은 1, 3번입니다.", &k_numbers, &k_cities, -1},
    {"6번", &k_numbers, &k_cities, -1},
    {"The answer is 4.", &k_numbers, &k_cities, 3},
    {"부산", &k_numbers, &k_cities, 1},
    {"1. 먼저 보기를 살펴봅니다. 2. 서울은 수도입니다. 3. 따라서 정답은 서울입니다.", &k_numbers, &k_cities, 0},
    {"3개의 보기가 헷갈립니다.", &k_numbers, &k_cities, -1},
    {"2023년", &k_numbers, &k_cities, -1},
    {"1. 먼저 보기를 살펴봅니다.\n2. 각 도시를 비교합니다.", &k_numbers, &k_cities, -1},
    {"정답은 3.5점입니다.", &k_numbers, &k_cities, -1},
    {"정답: 10", &k_numbers, &k_cities, -1},
    {"1번입니다. 아니, 2번입니다.", &k_numbers, &k_cities, -1},
    {"1위는 서울이고 2위는 부산입니다.", &k_numbers, &k_cities, -1},
    {"3가지 이유로 설명할 수 있습니다.", &k_numbers, &k_cities, -1},
    {"2 + 3 = 5이므로 답을 고르기 어렵습니다.", &k_numbers, &k_cities, -1},
    {"2 + 3 = 5이므로 정답은 5번", &k_numbers, &k_cities, 4},
    {"1, 2, 3 중에서 고르기 어렵습니다.", &k_numbers, &k_cities, -1},
    {"정답: ③ 3개", &k_numbers, &k_cities, 2},

    // --- ①–⑤ labels (digits mean the same choices) -------------------------------------------
    {"③", &k_circled, &k_cities, 2},
    {"3번", &k_circled, &k_cities, 2},
    {"정답은 ⑤입니다", &k_circled, &k_cities, 4},
    {"정답: ②", &k_circled, &k_cities, 1},

    // --- 가–마 labels: common syllables, so only explicit forms count ------------------------
    {"나", &k_ganada, &k_fruits, 1},
    {"(다)", &k_ganada, &k_fruits, 2},
    {"정답은 라입니다.", &k_ganada, &k_fruits, 3},
    {"정답: 가", &k_ganada, &k_fruits, 0},
    {"다음 중 정답은 (마)", &k_ganada, &k_fruits, 4},
    {"정답은 다음과 같습니다: (나)", &k_ganada, &k_fruits, 1},
    {"나는 잘 모르겠습니다.", &k_ganada, &k_fruits, -1},
    {"다음 보기를 보면 가장 적절한 것을 고르기 어렵습니다.", &k_ganada, &k_fruits, -1},

    // --- choice texts as answers ----------------------------------------------------------------
    {"예", &k_none, &k_yes_no, 1},
    {"아니오.", &k_none, &k_yes_no, 0},
    {"예, 맞습니다.", &k_none, &k_yes_no, 1},
    {"정답: 예", &k_none, &k_yes_no, 1},
    {"예를 들어 이 문장은 사실이 아닙니다. 답은 아니오입니다.", &k_none, &k_yes_no, 0},
    {"예를 들어 설명하자면 길어집니다.", &k_none, &k_yes_no, -1},
    {"긍정", &k_none, &k_sentiment, 1},
    {"이 리뷰는 긍정입니다.", &k_none, &k_sentiment, 1},
    {"긍정적인 표현도 있지만 전체적으로 부정입니다.", &k_none, &k_sentiment, 0},
    {"정답은 긍정이 아니라 부정입니다.", &k_none, &k_sentiment, 0},
    {k_nfd_negative, &k_none, &k_sentiment, 0},
    {"참", &k_none, &k_truth, 1},
    {"참입니다.", &k_none, &k_truth, 1},
    {"참고로 이 문장은 거짓입니다.", &k_none, &k_truth, 0},
    {"참과 거짓을 가리기 어렵습니다.", &k_none, &k_truth, -1},

    // --- KoBBQ (A/B/C with an unknown option) ------------------------------------------------
    {"C", &k_abc, &k_kobbq, 2},
    {"알 수 없음", &k_abc, &k_kobbq, 2},
    {"정답: A", &k_abc, &k_kobbq, 0},
    {"B. 할머니", &k_abc, &k_kobbq, 1},
};

TEST(ExtractChoice, Table) {
  ASSERT_GE(k_cases.size(), 80u);
  int failures = 0;
  for (const auto& c : k_cases) {
    const auto got = keval::extract_choice(c.response, *c.labels, *c.choices);
    EXPECT_EQ(got.index, c.expected) << "response: " << c.response << " (matched '" << got.matched << "')";
    EXPECT_EQ(got.unparsed(), c.expected < 0) << c.response;
    if (got.index != c.expected) ++failures;
  }
  EXPECT_EQ(failures, 0);
}

TEST(ExtractChoice, MatchedSpanIsReported) {
  auto got = keval::extract_choice("정답은 3번입니다.", k_numbers, k_cities);
  EXPECT_EQ(got.index, 2);
  EXPECT_EQ(got.matched, "3번입니다");
  got = keval::extract_choice("(C)", k_abcd, k_accounting);
  EXPECT_EQ(got.matched, "(C)");
  got = keval::extract_choice("모르겠습니다", k_abcd, k_accounting);
  EXPECT_TRUE(got.matched.empty());
}

TEST(ExtractChoice, NeverReturnsAnIndexOutsideTheChoices) {
  // ⑤ with four labels is no choice.
  EXPECT_EQ(keval::extract_choice("⑤", k_abcd, k_accounting).index, -1);
  EXPECT_EQ(keval::extract_choice("정답은 E입니다", k_abcd, k_accounting).index, -1);
  EXPECT_EQ(keval::extract_choice("B", {}, {}).index, -1);
}

TEST(ExtractChoice, InvalidUtf8DoesNotCrash) {
  const std::string bad = std::string("\xFF\xFE") + "정답은 B" + "\xC3";
  EXPECT_EQ(keval::extract_choice(bad, k_abcd, k_accounting).index, 1);
  EXPECT_EQ(keval::extract_choice(std::string("\x80\x80\x80", 3), k_abcd, k_accounting).index, -1);
}

TEST(ExtractChoice, IsFastOnShortResponses) {
  const std::vector<std::string> responses = {"B", "정답은 C입니다.", "The answer is (D).",
                                              "1번은 틀렸고 B가 정답입니다. 2023년 기준.", "재무상태표",
                                              "각 보기를 살펴보면 A는 틀리고 따라서 정답: C", "**B**", "모르겠습니다"};
  const auto start = std::chrono::steady_clock::now();
  long n = 0;
  long checksum = 0;
  while (n < 80000) {
    for (const auto& r : responses) checksum += keval::extract_choice(r, k_abcd, k_accounting).index;
    n += static_cast<long>(responses.size());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(checksum, 0);
  // ≥100k/s in a release build; the bound is loose so sanitizer and debug builds pass too.
  EXPECT_GT(static_cast<double>(n) / seconds, 10000.0) << n / seconds << " extractions/s";
}

} // namespace
