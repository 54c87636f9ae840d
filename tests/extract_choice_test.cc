// Answer extraction from generated text. The realistic responses live in
// fixtures/extraction_corpus.jsonl (data, one case a line); this file checks them and the edges.
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "answer_text.h"
#include "extract_choice.h"

namespace {

using Strings = std::vector<std::string>;

const Strings k_abcd = {"A", "B", "C", "D"};
const Strings k_accounting = {"재무상태표", "손익계산서", "현금흐름표", "자본변동표"};
const Strings k_numbers = {"1", "2", "3", "4", "5"};
const Strings k_cities = {"서울", "부산", "대구", "인천", "광주"};

// One corpus line: what the model was asked to answer with, the options, what it said, and the
// choice a careful reader takes from it (-1: no answer, a refusal, or conflicting answers).
struct CorpusCase {
  int line = 0;
  Strings labels;
  Strings choices;
  std::string response;
  int expected = -1;
  std::string note;
};

std::vector<CorpusCase> load_corpus() {
  const std::string path = std::string(KEVAL_TEST_FIXTURES) + "/extraction_corpus.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<CorpusCase> cases;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    if (text.empty()) continue;
    CorpusCase c;
    c.line = line;
    try {
      const auto j = nlohmann::json::parse(text);
      c.labels = j.at("labels").get<Strings>();
      c.choices = j.at("choices").get<Strings>();
      c.response = j.at("response").get<std::string>();
      c.expected = j.at("expected").is_null() ? -1 : j.at("expected").get<int>();
      c.note = j.at("note").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "extraction_corpus.jsonl:" << line << ": " << e.what();
      continue;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string describe(int index) { return index < 0 ? "unparsed" : std::to_string(index); }

TEST(ExtractChoice, Corpus) {
  const auto cases = load_corpus();
  ASSERT_GE(cases.size(), 300u);
  int failures = 0;
  for (const auto& c : cases) {
    // As a run gives it to the extractor: the answer text, its reasoning block removed.
    const auto got = keval::extract_choice(keval::answer_text(c.response, keval::ThinkPolicy::strip), c.labels, c.choices);
    if (got.index == c.expected && got.unparsed() == (c.expected < 0)) continue;
    ++failures;
    ADD_FAILURE() << "extraction_corpus.jsonl:" << c.line << ": expected " << describe(c.expected) << ", got "
                  << describe(got.index) << " (matched '" << got.matched << "') [" << c.note << "]\n  response: "
                  << c.response;
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " corpus lines";
}

TEST(ExtractChoice, CorpusCoversEveryLabelSet) {
  // The label sets tasks use: a corpus without one of them would let it regress unseen.
  std::set<std::string> firsts;
  for (const auto& c : load_corpus()) firsts.insert(c.labels.empty() ? "" : c.labels.front());
  for (const char* first : {"", "A", "1", "①", "가", "㉠"}) EXPECT_TRUE(firsts.count(first)) << first;
}

TEST(ExtractChoice, VersionIsRecorded) {
  // Runs store this string; it changes whenever an extraction could change.
  EXPECT_STREQ(keval::k_extractor_version, "2");
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

TEST(ExtractChoice, NoiseNeverCrashesNorLeavesTheChoices) {
  // Fragments of real answers glued at random, with broken UTF-8 and stray brackets: the
  // extractor must stay in bounds (the sanitizer build checks memory) and in the choice range.
  const std::vector<std::string> fragments = {
      "정답", "은 ", "답: ", "B", "3번", "①", "㉢", "ㄱ", "(", ")", "「", "**", "\n", " ", "입니다", "이 ", "가 ",
      "아니라 ", "틀림", "맞음", ": ", "세 번째 ", "보기", "the ", "answer is ", "third", "seems ", "wrong",
      "알 수 없", "습니다", "<think>", "</think>", "\xFF", "\xE3\x80", "\xC3", "2023년 ", "3.5", "재무상태표", "예",
      "마지막 ", "1, ", "O", "X", "✅", "❌", "|", "번", "째"};
  const std::vector<Strings> label_sets = {k_abcd, k_numbers, {"①", "②", "③", "④", "⑤"}, {"가", "나", "다", "라", "마"},
                                           {"㉠", "㉡", "㉢", "㉣", "㉤"}, {}};
  unsigned long long state = 88172645463325252ULL;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int i = 0; i < 3000; ++i) {
    std::string response;
    const auto parts = 1 + next() % 12;
    for (unsigned long long k = 0; k < parts; ++k) response += fragments[next() % fragments.size()];
    const Strings& labels = label_sets[next() % label_sets.size()];
    const Strings& choices = next() % 2 ? k_accounting : k_cities;
    const auto got = keval::extract_choice(response, labels, choices);
    const auto n = static_cast<int>(labels.empty() ? choices.size() : labels.size());
    EXPECT_GE(got.index, -1) << response;
    EXPECT_LT(got.index, n) << response;
  }
}

} // namespace
