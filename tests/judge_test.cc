// The LLM judge's pure parts: verdict parsing, the Korean share behind the non-Korean penalty,
// prompt-template filling, and the mt_bench, logickor and pairwise protocols on the real task data
// (datasets/komt_bench, datasets/logickor), so a drift between the code and the shipped prompt
// files shows up here rather than in a paid judging run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "judge.h"
#include "judge_pairwise.h"
#include "metrics.h"
#include "registry.h"
#include "support/cli.h"
#include "support/errors.h"
#include "error.h"

namespace keval {
namespace {

using testing::expect_input_error;

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------


bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) ++n;
  return n;
}

// An independent fill of a template (plain replace-all), to check the protocol's output exactly
// without trusting format_placeholders. The shipped templates have no {{ }} escapes.
std::string fill(std::string pattern, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [key, value] : values) {
    const std::string placeholder = "{" + key + "}";
    for (size_t at = pattern.find(placeholder); at != std::string::npos; at = pattern.find(placeholder, at + value.size()))
      pattern.replace(at, placeholder.size(), value);
  }
  return pattern;
}

// JSON lines read straight from a shipped file, not through the registry.
std::vector<json> read_jsonl(const std::string& relative) {
  std::ifstream in(testing::source_dir() + "/datasets/" + relative, std::ios::binary);
  EXPECT_TRUE(in) << relative;
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

// One judge prompt record of komt_bench's judge_prompts_ko.jsonl: (system prompt, template).
std::pair<std::string, std::string> komt_prompt(const std::string& name) {
  for (const auto& row : read_jsonl("komt_bench/judge_prompts_ko.jsonl"))
    if (row.value("name", "") == name) return {row.at("system_prompt").get<std::string>(), row.at("prompt_template").get<std::string>()};
  ADD_FAILURE() << "no judge prompt " << name;
  return {};
}

// GPT-4's reference turns for a KoMT-Bench question, read from the shipped file.
std::vector<std::string> komt_reference(const std::string& question_id) {
  for (const auto& row : read_jsonl("komt_bench/reference_answer_ko/gpt-4.jsonl"))
    if (row.at("question_id").dump() == question_id) return row.at("choices")[0].at("turns").get<std::vector<std::string>>();
  ADD_FAILURE() << "no reference for " << question_id;
  return {};
}

// The registry over the source tree (not $KEVAL_HOME), built once for the whole binary.
TaskRegistry& registry() {
  static TaskRegistry r(KevalPaths{testing::source_dir() + "/tasks", testing::source_dir() + "/datasets"});
  return r;
}

// A judged task's configuration, samples and judge files, loaded once per task.
struct JudgedTask {
  const TaskConfig* config = nullptr;
  std::vector<Sample> samples;
  JudgeData data;

  const JudgeSpec& spec() const { return *config->judge; }
  const Sample& first(const std::function<bool(const Sample&)>& pred) const {
    for (const auto& s : samples)
      if (pred(s)) return s;
    throw std::runtime_error("no sample matches in " + config->name);
  }
  const Sample& in_category(const std::string& category) const {
    return first([&](const Sample& s) { return s.fields.value("category", "") == category; });
  }
  const Sample& with_id(const std::string& id) const {
    return first([&](const Sample& s) { return s.id == id; });
  }
};

const JudgedTask& judged_task(const std::string& name) {
  static std::map<std::string, JudgedTask> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  JudgedTask t;
  t.config = registry().find_task(name);
  if (!t.config || !t.config->judge) throw std::runtime_error("task " + name + " missing or not judged");
  t.samples = registry().samples(*t.config, std::nullopt, std::nullopt);
  t.data = registry().judge_data(*t.config);
  return cache.emplace(name, std::move(t)).first->second;
}

std::unique_ptr<JudgeProtocol> protocol_for(const JudgedTask& task, std::optional<std::string> penalty = std::nullopt) {
  JudgeSpec spec = task.spec();
  if (penalty) spec.penalty = *penalty;
  return make_judge_protocol(spec, task.data);
}

// Every turn rated: the verdicts a protocol's score() gets when the judge read every turn.
std::vector<TurnVerdict> rated(const std::vector<double>& ratings) {
  std::vector<TurnVerdict> out;
  for (double r : ratings) out.push_back({r, false});
  return out;
}
const TurnVerdict k_unreadable{std::nullopt, true};  // answered every attempt, no readable score
const TurnVerdict k_failed{std::nullopt, false};     // the request failed

// Answers in real Korean and real English (never ASCII stand-ins for Hangul).
const std::string k_korean_answer = "삼각형의 넓이는 신발끈 공식으로 구하면 3입니다.";
const std::string k_korean_answer_2 = "외접원의 반지름은 세 변의 길이를 이용해 구할 수 있습니다.";
const std::string k_english_answer = "The area of the triangle is three, by the shoelace formula.";
// Exactly four Hangul syllables and four Latin letters: korean_share is 0.5.
const std::string k_half_korean_answer = "가나다라 abcd";
// Two Hangul syllables, six Latin letters: korean_share is 0.25.
const std::string k_quarter_korean_answer = "정답 isabcd";

// ---------------------------------------------------------------------------------------------
// labelled_rating: LogicKor's "점수: N"
// ---------------------------------------------------------------------------------------------

TEST(JudgeLabelledRating, ReadsTheNumberAfterTheLabel) {
  EXPECT_EQ(labelled_rating("평가: 질문의 요구를 모두 충족했다.\n점수: 8"), 8.0);
  EXPECT_EQ(labelled_rating("점수:10"), 10.0);
  EXPECT_EQ(labelled_rating("점수 : 0"), 0.0);
  EXPECT_EQ(labelled_rating("점수: 7.5"), 7.5);
}

// std::regex reads bytes: the full-width colon (three UTF-8 bytes) must still be read as a colon.
TEST(JudgeLabelledRating, AcceptsTheFullWidthColon) {
  EXPECT_EQ(labelled_rating("점수：6"), 6.0);
  EXPECT_EQ(labelled_rating("평가: 무난하다.\n**점수：** 9"), 9.0);
}

TEST(JudgeLabelledRating, IgnoresMarkdownEmphasis) {
  // Judges often bold the label or the number; asterisks must not hide the rating.
  EXPECT_EQ(labelled_rating("**평가:** 훌륭하다.\n**점수:** 9"), 9.0);
  EXPECT_EQ(labelled_rating("점수: **4**"), 4.0);
}

TEST(JudgeLabelledRating, NoLabelOrOutOfRangeIsNoRating) {
  EXPECT_FALSE(labelled_rating("평가: 좋은 답변이다."));
  EXPECT_FALSE(labelled_rating("Score: 8"));
  EXPECT_FALSE(labelled_rating("[[8]]"));  // MT-Bench's format is not LogicKor's
  EXPECT_FALSE(labelled_rating("점수: 11"));
  EXPECT_FALSE(labelled_rating("점수: -3"));
  EXPECT_FALSE(labelled_rating("점수: 없음"));
  EXPECT_FALSE(labelled_rating(""));
}

// ---------------------------------------------------------------------------------------------
// bracket_rating: MT-Bench's "[[N]]", "[N]" as a fallback
// ---------------------------------------------------------------------------------------------

TEST(JudgeBracketRating, ReadsDoubledBrackets) {
  EXPECT_EQ(bracket_rating("설명을 마칩니다. 점수: [[8]]"), 8.0);
  EXPECT_EQ(bracket_rating("Rating: [[8.5]]"), 8.5);
  EXPECT_EQ(bracket_rating("[[10]]"), 10.0);
  EXPECT_EQ(bracket_rating("[[0]]"), 0.0);
}

TEST(JudgeBracketRating, FallsBackToSingleBrackets) {
  EXPECT_EQ(bracket_rating("평가: [7]"), 7.0);
}

TEST(JudgeBracketRating, DoubledBracketsWinOverAnEarlierSingle) {
  // FastChat tries the [[N]] pattern over the whole text before the [N] backup.
  EXPECT_EQ(bracket_rating("참고 [2]번 항목을 보면, 점수: [[9]]"), 9.0);
}

TEST(JudgeBracketRating, NoBracketsOrOutOfRangeIsNoRating) {
  EXPECT_FALSE(bracket_rating("점수: 8"));
  EXPECT_FALSE(bracket_rating("[[rating]]"));
  EXPECT_FALSE(bracket_rating("[[11]]"));
  EXPECT_FALSE(bracket_rating("[42]"));
  EXPECT_FALSE(bracket_rating(""));
}

// ---------------------------------------------------------------------------------------------
// korean_share: the non-Korean penalty's input
// ---------------------------------------------------------------------------------------------

TEST(JudgeKoreanShare, CountsHangulAmongLetters) {
  EXPECT_DOUBLE_EQ(korean_share(k_korean_answer), 1.0);
  EXPECT_DOUBLE_EQ(korean_share(k_english_answer), 0.0);
  EXPECT_DOUBLE_EQ(korean_share(k_half_korean_answer), 0.5);
  EXPECT_DOUBLE_EQ(korean_share(k_quarter_korean_answer), 0.25);
}

TEST(JudgeKoreanShare, DigitsAndPunctuationAreNotLetters) {
  EXPECT_DOUBLE_EQ(korean_share("정답은 42입니다!!! (100%)"), 1.0);
}

TEST(JudgeKoreanShare, NoLettersCountsAsKorean) {
  // An answer of only numbers or symbols must not be penalised as "not Korean".
  EXPECT_DOUBLE_EQ(korean_share(""), 1.0);
  EXPECT_DOUBLE_EQ(korean_share("12345 = 12345"), 1.0);
}

TEST(JudgeKoreanShare, LeavesOutFencedCode) {
  // Code is written in Latin letters whatever the answer's language.
  const std::string answer =
      "다음은 피보나치 함수입니다.\n```python\ndef fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n```\n"
      "재귀로 구현했습니다.";
  EXPECT_DOUBLE_EQ(korean_share(answer), 1.0);
  // Only code: no letters outside it, so Korean.
  EXPECT_DOUBLE_EQ(korean_share("```cpp\nint main() { return 0; }\n```"), 1.0);
  // An unclosed fence runs to the end.
  EXPECT_DOUBLE_EQ(korean_share("코드는 아래와 같습니다.\n```python\nprint('hello world')"), 1.0);
  // English prose around code still counts.
  EXPECT_DOUBLE_EQ(korean_share("Here is the code:\n```python\nprint('안녕')\n```"), 0.0);
}

TEST(JudgeKoreanShare, LeavesOutInlineCode) {
  EXPECT_DOUBLE_EQ(korean_share("`std::vector`를 사용하세요"), 1.0);
  // A backtick not closed on its line is not code: the letters after it count.
  EXPECT_DOUBLE_EQ(korean_share("정답 `isab\ncd"), 0.25);
}

// ---------------------------------------------------------------------------------------------
// format_placeholders: Python str.format for the prompt files
// ---------------------------------------------------------------------------------------------

TEST(JudgeFormatPlaceholders, FillsNamedPlaceholders) {
  EXPECT_EQ(detail::format_placeholders("[질문]\n{question}\n[답변]\n{answer}", {{"question", "수도는?"}, {"answer", "서울"}}),
            "[질문]\n수도는?\n[답변]\n서울");
  // The multi-turn templates use {question_1} twice (once per assistant).
  EXPECT_EQ(detail::format_placeholders("{q}/{q}", {{"q", "한국"}}), "한국/한국");
  // Unused values are fine.
  EXPECT_EQ(detail::format_placeholders("고정 문장", {{"q", "쓰이지 않음"}}), "고정 문장");
}

TEST(JudgeFormatPlaceholders, DoubledBracesEscape) {
  EXPECT_EQ(detail::format_placeholders("{{예시}} {a} }}{{", {{"a", "값"}}), "{예시} 값 }{");
  // Escapes around a placeholder, as "{{{a}}}" in Python: "{값}".
  EXPECT_EQ(detail::format_placeholders("{{{a}}}", {{"a", "값"}}), "{값}");
}

TEST(JudgeFormatPlaceholders, ValuesAreNotExpandedAgain) {
  // A model's answer containing braces (code, JSON) is inserted verbatim.
  EXPECT_EQ(detail::format_placeholders("{answer}", {{"answer", "{\"도시\": \"{question}\"}"}, {"question", "X"}}),
            "{\"도시\": \"{question}\"}");
}

TEST(JudgeFormatPlaceholders, MissingPlaceholderIsAnInputError) {
  const std::string message = expect_input_error([] { detail::format_placeholders("{question} {ref_answer_1}", {{"question", "질문"}}); });
  EXPECT_TRUE(contains(message, "ref_answer_1")) << message;
}

TEST(JudgeFormatPlaceholders, UnclosedBraceIsAnInputError) {
  expect_input_error([] { detail::format_placeholders("점수 {question", {{"question", "질문"}}); });
}

// ---------------------------------------------------------------------------------------------
// detect_korean: KoMT-Bench's language rule (agreement with the reference: judge_reference_test.cc)
// ---------------------------------------------------------------------------------------------

TEST(JudgeDetectKorean, KoreanProseIsKoreanEnglishProseIsNot) {
  EXPECT_TRUE(detect_korean(k_korean_answer).korean);
  const LanguageDecision english = detect_korean(k_english_answer);
  EXPECT_FALSE(english.korean);
  EXPECT_EQ(english.why, "hangul_share");
  EXPECT_DOUBLE_EQ(english.share, 0.0);
  // English prose quoting a Korean word is still English.
  EXPECT_FALSE(detect_korean("The word 사랑 means love, and it is used in many songs and poems.").korean);
  EXPECT_FALSE(detect_korean("これは日本語の答えです。").korean);
}

TEST(JudgeDetectKorean, JsonAndCodeAreNotPenalised) {
  // KoMT-Bench's extraction answers: JSON with English keys was not penalised by the reference.
  const LanguageDecision data = detect_korean("[\n  {\n    \"score\": 5,\n    \"release_date\": \"2019-11-18\"\n  }\n]");
  EXPECT_TRUE(data.korean);
  EXPECT_EQ(data.why, "json");
  EXPECT_TRUE(detect_korean("[5, 1, 3]").korean);
  // Code with a Korean explanation is judged on the explanation.
  EXPECT_TRUE(detect_korean("다음 함수는 두 수를 더합니다.\n```python\ndef add(first, second):\n    return first + second\n```").korean);
  const LanguageDecision code_only = detect_korean("```python\nprint('hello world')\n```");
  EXPECT_TRUE(code_only.korean);
  EXPECT_EQ(code_only.why, "no_letters");
  // A formula-heavy Korean answer (KoMT-Bench 139: 41% Hangul letters) is Korean.
  EXPECT_TRUE(detect_korean("방정식을 재정렬하고 'a', 'b', 'c', 'd' 등을 변수로 사용하면 다음과 같습니다: a = (3/4)b^3 - e^(2b)").korean);
}

TEST(JudgeDetectKorean, DecomposedHangulIsKorean) {
  // "한국어로 답합니다" written as conjoining jamo (NFD), as some tokenizers emit it.
  const std::string decomposed = "\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165\u1105\u1169 "
                                 "\u1103\u1161\u11B8\u1112\u1161\u11B8\u1102\u1175\u1103\u1161 with words";
  const LanguageDecision d = detect_korean(decomposed);
  EXPECT_TRUE(d.korean) << d.share;
  EXPECT_NEAR(d.share, 8.0 / (8 + 9), 1e-12);  // 8 syllables after NFC, 9 Latin letters
}

TEST(JudgeDetectKorean, ThresholdIsThirtyPercentOfLetters) {
  EXPECT_TRUE(detect_korean("가나다 abcdefg").korean);    // 3 of 10 letters
  EXPECT_FALSE(detect_korean("가나 abcdefgh").korean);    // 2 of 10
}

// ---------------------------------------------------------------------------------------------
// The protocol registry
// ---------------------------------------------------------------------------------------------

TEST(JudgeProtocols, NamesAndMetrics) {
  EXPECT_EQ(judge_protocol_names(), (std::vector<std::string>{"logickor", "logickor_keval", "mt_bench"}));
  EXPECT_EQ(judge_metrics("mt_bench"), (std::vector<std::string>{"judge_score", "judge_score_no_penalty",
                                                                 "judge_score_hangul_share", "judge_turn1", "judge_turn2"}));
  const std::vector<std::string> logickor = {"judge_score",       "judge_single_turn",       "judge_multi_turn",
                                             "judge_score_rated", "judge_single_turn_rated", "judge_multi_turn_rated"};
  EXPECT_EQ(judge_metrics("logickor"), logickor);
  EXPECT_EQ(judge_metrics("logickor_keval"), logickor);
  EXPECT_TRUE(judge_metrics("gpt4_pairwise").empty());
}

TEST(JudgeProtocols, EveryJudgeMetricIsKnownToMetrics) {
  // A metric produced by score() but unknown to metrics.cc could not be aggregated or reported.
  for (const auto& protocol : judge_protocol_names())
    for (const auto& metric : judge_metrics(protocol)) EXPECT_NE(find_metric(metric), nullptr) << protocol << ": " << metric;
}

TEST(JudgeProtocols, JudgedTasksListTheirProtocolsMetrics) {
  for (const char* name : {"komt_bench", "logickor", "logickor_1shot", "logickor_cot_1shot", "logickor_keval"}) {
    const auto& task = judged_task(name);
    for (const auto& metric : judge_metrics(task.spec().protocol))
      EXPECT_NE(std::find(task.config->metrics.begin(), task.config->metrics.end(), metric), task.config->metrics.end())
          << name << " lacks " << metric;
  }
}

TEST(JudgeProtocols, UnknownProtocolIsAnInputError) {
  JudgeSpec spec;
  spec.protocol = "gpt4_judge";
  const std::string message = expect_input_error([&] { make_judge_protocol(spec, JudgeData{}); });
  EXPECT_TRUE(contains(message, "gpt4_judge")) << message;
  EXPECT_TRUE(contains(message, "mt_bench")) << message;  // lists the known ones
}

TEST(JudgeProtocols, MtBenchWithoutItsPromptsIsAnInputError) {
  JudgeSpec spec;
  spec.protocol = "mt_bench";
  spec.prompts_file = "komt_bench/judge_prompts_ko.jsonl";
  const std::string message = expect_input_error([&] { make_judge_protocol(spec, JudgeData{}); });
  EXPECT_TRUE(contains(message, "judge_prompts_ko.jsonl")) << message;
}

// ---------------------------------------------------------------------------------------------
// mt_bench on the real KoMT-Bench files
// ---------------------------------------------------------------------------------------------

TEST(JudgeMtBench, MathFirstTurnUsesTheReferencePrompt) {
  const auto& task = judged_task("komt_bench");
  const Sample& math = task.in_category("math");
  const auto protocol = protocol_for(task);
  const auto reference = komt_reference(math.id);
  ASSERT_FALSE(reference.empty());

  const auto messages = protocol->prompt(math, 0, {k_korean_answer});
  ASSERT_EQ(messages.size(), 2u);
  const auto [system, pattern] = komt_prompt("single-math-v1");
  EXPECT_EQ(messages[0].role, "system");
  EXPECT_EQ(messages[0].content, system);
  EXPECT_EQ(messages[1].role, "user");
  EXPECT_TRUE(contains(messages[1].content, reference[0])) << "reference answer missing";
  EXPECT_TRUE(contains(messages[1].content, math.turns[0]));
  EXPECT_TRUE(contains(messages[1].content, k_korean_answer));
  EXPECT_EQ(messages[1].content,
            fill(pattern, {{"question", math.turns[0]}, {"ref_answer_1", reference[0]}, {"answer", k_korean_answer}}));
}

TEST(JudgeMtBench, EveryReferenceCategoryUsesTheReferencePrompt) {
  // reference_categories is [math, reasoning, coding]: every one of them has references shipped.
  const auto& task = judged_task("komt_bench");
  const auto protocol = protocol_for(task);
  const std::string math_system = komt_prompt("single-math-v1").first;
  const std::string math_template_start = "[참조용 답변 시작]";
  for (const auto& category : task.spec().reference_categories) {
    for (const auto& s : task.samples) {
      if (s.fields.value("category", "") != category) continue;
      const auto messages = protocol->prompt(s, 0, {k_korean_answer});
      ASSERT_EQ(messages.size(), 2u);
      EXPECT_EQ(messages[0].content, math_system) << s.id;
      EXPECT_TRUE(contains(messages[1].content, math_template_start)) << s.id;
      EXPECT_TRUE(contains(messages[1].content, komt_reference(s.id)[0])) << s.id;
    }
  }
  // And no other category gets one.
  const std::string plain_system = komt_prompt("single-v1").first;
  size_t plain = 0;
  for (const auto& s : task.samples) {
    const auto& refs = task.spec().reference_categories;
    if (std::find(refs.begin(), refs.end(), s.fields.value("category", "")) != refs.end()) continue;
    ++plain;
    const auto messages = protocol->prompt(s, 0, {k_korean_answer});
    EXPECT_EQ(messages[0].content, plain_system) << s.id;
    EXPECT_FALSE(contains(messages[1].content, math_template_start)) << s.id;
  }
  EXPECT_EQ(plain, 50u);  // 8 categories of 10: 5 without references
}

TEST(JudgeMtBench, WritingFirstTurnHasNoReference) {
  const auto& task = judged_task("komt_bench");
  const Sample& writing = task.in_category("writing");
  const auto protocol = protocol_for(task);
  const auto messages = protocol->prompt(writing, 0, {k_korean_answer});
  ASSERT_EQ(messages.size(), 2u);
  const auto [system, pattern] = komt_prompt("single-v1");
  EXPECT_EQ(messages[0].content, system);
  EXPECT_EQ(messages[1].content, fill(pattern, {{"question", writing.turns[0]}, {"answer", k_korean_answer}}));
  EXPECT_FALSE(contains(messages[1].content, "참조용 답변"));
}

TEST(JudgeMtBench, SecondTurnShowsTheWholeConversation) {
  const auto& task = judged_task("komt_bench");
  const Sample& writing = task.in_category("writing");
  ASSERT_EQ(writing.turns.size(), 2u);
  const auto protocol = protocol_for(task);
  const auto messages = protocol->prompt(writing, 1, {k_korean_answer, k_korean_answer_2});
  ASSERT_EQ(messages.size(), 2u);
  const auto [system, pattern] = komt_prompt("single-v1-multi-turn");
  EXPECT_EQ(messages[0].content, system);
  const std::string& user = messages[1].content;
  EXPECT_EQ(user, fill(pattern, {{"question_1", writing.turns[0]}, {"answer_1", k_korean_answer},
                                 {"question_2", writing.turns[1]}, {"answer_2", k_korean_answer_2}}));
  // In order: first question, first answer, follow-up, second answer.
  const size_t q1 = user.find(writing.turns[0]), a1 = user.find(k_korean_answer), q2 = user.find(writing.turns[1]),
               a2 = user.find(k_korean_answer_2);
  ASSERT_NE(a2, std::string::npos);
  EXPECT_LT(q1, a1);
  EXPECT_LT(a1, q2);
  EXPECT_LT(q2, a2);
}

TEST(JudgeMtBench, MathSecondTurnShowsBothReferences) {
  const auto& task = judged_task("komt_bench");
  const Sample& math = task.in_category("math");
  const auto reference = komt_reference(math.id);
  ASSERT_EQ(reference.size(), 2u);
  const auto protocol = protocol_for(task);
  const auto messages = protocol->prompt(math, 1, {k_korean_answer, k_korean_answer_2});
  const auto [system, pattern] = komt_prompt("single-math-v1-multi-turn");
  EXPECT_EQ(messages[0].content, system);
  EXPECT_EQ(messages[1].content,
            fill(pattern, {{"question_1", math.turns[0]}, {"answer_1", k_korean_answer}, {"question_2", math.turns[1]},
                           {"answer_2", k_korean_answer_2}, {"ref_answer_1", reference[0]}, {"ref_answer_2", reference[1]}}));
}

TEST(JudgeMtBench, NoPromptLeavesAPlaceholderUnfilled) {
  // Every sample and turn fills its template completely (no "{question}" reaches the judge).
  const auto& task = judged_task("komt_bench");
  const auto protocol = protocol_for(task);
  for (const auto& s : task.samples)
    for (int turn = 0; turn < 2; ++turn) {
      const auto messages = protocol->prompt(s, turn, {k_korean_answer, k_korean_answer_2});
      for (const char* p : {"{question", "{answer", "{ref_answer"}) EXPECT_FALSE(contains(messages[1].content, p)) << s.id << " turn " << turn;
    }
}

TEST(JudgeMtBench, MissingReferenceIsAnInputError) {
  const auto& task = judged_task("komt_bench");
  Sample unknown = task.in_category("math");
  unknown.id = "999";
  const auto protocol = protocol_for(task);
  const std::string message = expect_input_error([&] { protocol->prompt(unknown, 0, {k_korean_answer}); });
  EXPECT_TRUE(contains(message, "999")) << message;
  EXPECT_TRUE(contains(message, "gpt-4.jsonl")) << message;
}

TEST(JudgeMtBench, RatingReadsBrackets) {
  const auto protocol = protocol_for(judged_task("komt_bench"));
  EXPECT_EQ(protocol->rating("답변이 정확합니다. 점수: [[7]]"), 7.0);
  EXPECT_FALSE(protocol->rating("점수: 7"));
}

// The penalty (komt_bench: KoMT-Bench's sqrt_score_if_not_korean, exempt 138 and 140).

TEST(JudgeMtBench, EnglishAnswerGetsTheSquareRootOfItsRating) {
  const auto& task = judged_task("komt_bench");
  ASSERT_EQ(task.spec().penalty, "sqrt_score_if_not_korean");
  const Sample& writing = task.in_category("writing");
  SampleScore score;
  protocol_for(task)->score(writing, {k_english_answer}, rated({8}), score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn1"), std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(score.values.at("judge_score"), std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(score.values.at("judge_score_no_penalty"), 8.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score_hangul_share"), 0.0);  // keval's rule: 8 x sqrt(0)
  EXPECT_EQ(score.meta.at("language"), json::array({"not_ko"}));
  EXPECT_EQ(score.values.count("judge_turn2"), 0u);
  EXPECT_EQ(score.meta.at("category"), "writing");
  EXPECT_EQ(score.meta.at("ratings"), json::array({8.0}));
}

TEST(JudgeMtBench, KoreanAnswerKeepsItsRating) {
  const auto& task = judged_task("komt_bench");
  const Sample& writing = task.in_category("writing");
  SampleScore score;
  protocol_for(task)->score(writing, {k_korean_answer, k_korean_answer_2}, rated({8, 6}), score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn1"), 8.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn2"), 6.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score"), 7.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score_no_penalty"), 7.0);
  EXPECT_FALSE(score.meta.contains("penalty_exempt"));
}

TEST(JudgeMtBench, MixedAnswerIsScaledBySqrtOfItsShare) {
  const auto& task = judged_task("komt_bench");
  const Sample& writing = task.in_category("writing");
  SampleScore score;
  protocol_for(task, "hangul_share_sqrt")->score(writing, {k_korean_answer, k_quarter_korean_answer}, rated({8, 6}), score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn1"), 8.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn2"), 6.0 * std::sqrt(0.25));  // 3
  EXPECT_DOUBLE_EQ(score.values.at("judge_score"), (8.0 + 3.0) / 2);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score_no_penalty"), 7.0);
  ASSERT_EQ(score.meta.at("korean_share").size(), 2u);
  EXPECT_DOUBLE_EQ(score.meta.at("korean_share")[1].get<double>(), 0.25);

  SampleScore half;
  protocol_for(task, "hangul_share_sqrt")->score(writing, {k_half_korean_answer}, rated({8}), half);
  EXPECT_DOUBLE_EQ(half.values.at("judge_turn1"), 8.0 * std::sqrt(0.5));
  // The task's own protocol reports keval's rule beside KoMT-Bench's.
  SampleScore both;
  protocol_for(task)->score(writing, {k_korean_answer, k_quarter_korean_answer}, rated({8, 6}), both);
  EXPECT_DOUBLE_EQ(both.values.at("judge_score_hangul_share"), (8.0 + 3.0) / 2);
  EXPECT_DOUBLE_EQ(both.values.at("judge_score"), (8.0 + std::sqrt(6.0)) / 2);  // 0.25 Hangul: not Korean
}

TEST(JudgeMtBench, ExemptQuestionsAreNeverPenalised) {
  // Questions 138 and 140 ask for English-heavy output (product names, dates), so they are exempt.
  const auto& task = judged_task("komt_bench");
  for (const char* id : {"138", "140"}) {
    const Sample& exempt = task.with_id(id);
    SampleScore score;
    protocol_for(task)->score(exempt, {k_english_answer, k_english_answer}, rated({8, 6}), score);
    EXPECT_DOUBLE_EQ(score.values.at("judge_turn1"), 8.0) << id;
    EXPECT_DOUBLE_EQ(score.values.at("judge_turn2"), 6.0) << id;
    EXPECT_DOUBLE_EQ(score.values.at("judge_score"), 7.0) << id;
    EXPECT_EQ(score.meta.value("penalty_exempt", false), true) << id;
  }
  // Its neighbour 139 is not exempt.
  SampleScore score;
  protocol_for(task)->score(task.with_id("139"), {k_english_answer}, rated({8}), score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn1"), std::sqrt(8.0));
}

TEST(JudgeMtBench, SqrtScorePenaltyAppliesWhenDetectedNotKorean) {
  // KoMT-Bench's detector.py rule: sqrt(rating) when the answer is detected as not Korean.
  const auto& task = judged_task("komt_bench");
  const auto protocol = protocol_for(task, "sqrt_score_if_not_korean");
  const Sample& writing = task.in_category("writing");
  SampleScore english, korean, half, quarter;
  protocol->score(writing, {k_english_answer}, rated({9}), english);
  protocol->score(writing, {k_korean_answer}, rated({9}), korean);
  protocol->score(writing, {k_half_korean_answer}, rated({9}), half);
  protocol->score(writing, {k_quarter_korean_answer}, rated({9}), quarter);
  EXPECT_DOUBLE_EQ(english.values.at("judge_turn1"), 3.0);
  EXPECT_DOUBLE_EQ(english.values.at("judge_score_no_penalty"), 9.0);
  EXPECT_DOUBLE_EQ(korean.values.at("judge_turn1"), 9.0);
  EXPECT_DOUBLE_EQ(half.values.at("judge_turn1"), 9.0);     // half Hangul reads as Korean
  EXPECT_DOUBLE_EQ(quarter.values.at("judge_turn1"), 3.0);  // a quarter does not
}

TEST(JudgeMtBench, AFailedTurnIsLeftOutAlone) {
  // FastChat: a turn without a rating is -1 and show_result drops it; the other turn still counts.
  const auto& task = judged_task("komt_bench");
  const Sample& writing = task.in_category("writing");
  for (const TurnVerdict& missing : {k_unreadable, k_failed}) {
    SampleScore score;
    protocol_for(task)->score(writing, {k_korean_answer, k_korean_answer_2}, {missing, {6.0, false}}, score);
    EXPECT_EQ(score.values.count("judge_turn1"), 0u);
    EXPECT_DOUBLE_EQ(score.values.at("judge_turn2"), 6.0);
    EXPECT_DOUBLE_EQ(score.values.at("judge_score"), 6.0);
    EXPECT_EQ(score.meta.at("judge_weights").at("judge_score"), 1);
    EXPECT_EQ(score.meta.at("ratings"), json::array({nullptr, 6.0}));
  }
  SampleScore none;
  protocol_for(task)->score(writing, {k_korean_answer, k_korean_answer_2}, {k_unreadable, k_failed}, none);
  EXPECT_EQ(none.values.count("judge_score"), 0u) << "no rated turn: the sample is not scored";
}

TEST(JudgeMtBench, AsksOnceAsFastChat) {
  EXPECT_EQ(protocol_for(judged_task("komt_bench"))->attempts(), 1);
  EXPECT_EQ(protocol_for(judged_task("komt_bench"))->describe().at("attempts"), 1);
}

TEST(JudgeMtBench, JudgeScorePoolsTurnsAsShowResult) {
  // show_result averages the rows left: (8 + 6 + 10) / 3, not ((8 + 6) / 2 + 10) / 2.
  const auto& task = judged_task("komt_bench");
  const auto protocol = protocol_for(task);
  std::vector<SampleScore> samples(2);
  protocol->score(task.with_id("81"), {k_korean_answer, k_korean_answer_2}, rated({8, 6}), samples[0]);
  protocol->score(task.with_id("82"), {k_korean_answer, k_korean_answer_2}, {{10.0, false}, k_unreadable}, samples[1]);
  const MetricEstimate e = aggregate_metric("judge_score", samples);
  ASSERT_TRUE(e.value);
  EXPECT_DOUBLE_EQ(*e.value, 8.0);
  EXPECT_DOUBLE_EQ(*aggregate_metric("judge_turn1", samples).value, 9.0);
  EXPECT_DOUBLE_EQ(*aggregate_metric("judge_turn2", samples).value, 6.0);
  // keval compare resamples the same figure.
  MetricOnSubset subset("judge_score", samples);
  EXPECT_DOUBLE_EQ(*subset.value({0, 1}), 8.0);
  EXPECT_DOUBLE_EQ(*subset.value({1, 1}), 10.0);
}

TEST(JudgeMtBench, NoPenaltyKeepsEveryRating) {
  const auto& task = judged_task("komt_bench");
  SampleScore score;
  protocol_for(task, "none")->score(task.in_category("writing"), {k_english_answer}, rated({8}), score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_turn1"), 8.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score"), 8.0);
}

TEST(JudgeMtBench, DescribeRecordsWhatDecidesResults) {
  const auto& task = judged_task("komt_bench");
  const json d = protocol_for(task)->describe();
  EXPECT_EQ(d.at("protocol"), "mt_bench");
  EXPECT_EQ(d.at("penalty"), "sqrt_score_if_not_korean");
  EXPECT_EQ(d.at("version"), 2);
  EXPECT_EQ(d.at("penalty_exempt"), json::array({"138", "140"}));
  EXPECT_EQ(d.at("data_sha256"), task.data.sha256);
  EXPECT_EQ(d.at("data_sha256").get<std::string>().size(), 64u);
  EXPECT_EQ(d.at("prompt_sha256").get<std::string>().size(), 64u);
  // A different penalty is a different judging: describe() must tell them apart.
  EXPECT_NE(protocol_for(task, "none")->describe(), d);
}

TEST(JudgeMtBench, BreaksDownByCategory) {
  const auto& task = judged_task("komt_bench");
  EXPECT_EQ(protocol_for(task)->breakdown_metrics(), std::vector<std::string>{"judge_score"});
  JudgeSpec no_category = task.spec();
  no_category.category_field.clear();
  EXPECT_TRUE(make_judge_protocol(no_category, task.data)->breakdown_metrics().empty());
}

// ---------------------------------------------------------------------------------------------
// logickor on the real LogicKor questions
// ---------------------------------------------------------------------------------------------

// The row's reference for a turn as text, "" when null (LogicKor's "references" may hold null).
std::string logickor_reference(const Sample& s, size_t turn) {
  const auto& refs = s.fields.at("references");
  return turn < refs.size() && refs[turn].is_string() ? refs[turn].get<std::string>() : "";
}

TEST(JudgeLogicKorKeval, FirstTurnShowsQuestionAnswerAndReference) {
  const auto& task = judged_task("logickor_keval");
  const Sample& shirts = task.first([](const Sample& s) { return logickor_reference(s, 0) == "다섯 벌"; });
  ASSERT_EQ(shirts.turns.size(), 2u);  // max_turns cuts item 3's third string
  const auto messages = protocol_for(task)->prompt(shirts, 0, {k_korean_answer});
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].role, "system");
  EXPECT_EQ(messages[1].role, "user");
  const std::string& user = messages[1].content;
  EXPECT_TRUE(contains(user, shirts.turns[0]));
  EXPECT_TRUE(contains(user, "다섯 벌"));
  EXPECT_TRUE(contains(user, k_korean_answer));
  EXPECT_FALSE(contains(user, shirts.turns[1])) << "the follow-up belongs to turn 2 only";
  EXPECT_FALSE(contains(user, "[후속 질문]"));
  EXPECT_LT(user.find(shirts.turns[0]), user.find(k_korean_answer));
}

TEST(JudgeLogicKorKeval, NullReferenceShowsNone) {
  const auto& task = judged_task("logickor_keval");
  const Sample& open = task.first([](const Sample& s) { return s.fields.at("references")[0].is_null(); });
  const auto messages = protocol_for(task)->prompt(open, 1, {k_korean_answer, k_korean_answer_2});
  EXPECT_FALSE(contains(messages[1].content, "[참고 자료]"));
  EXPECT_FALSE(contains(messages[1].content, "null"));
}

TEST(JudgeLogicKorKeval, SecondTurnShowsFollowUpAndBothAnswers) {
  const auto& task = judged_task("logickor_keval");
  const Sample& shirts = task.first([](const Sample& s) { return logickor_reference(s, 0) == "다섯 벌"; });
  ASSERT_TRUE(shirts.fields.at("references")[1].is_null());
  const auto messages = protocol_for(task)->prompt(shirts, 1, {k_korean_answer, k_korean_answer_2});
  const std::string& user = messages[1].content;
  const size_t q1 = user.find(shirts.turns[0]), a1 = user.find(k_korean_answer), q2 = user.find(shirts.turns[1]),
               a2 = user.find(k_korean_answer_2);
  ASSERT_NE(q1, std::string::npos);
  ASSERT_NE(a1, std::string::npos);
  ASSERT_NE(q2, std::string::npos);
  ASSERT_NE(a2, std::string::npos);
  EXPECT_LT(q1, a1);
  EXPECT_LT(a1, q2);
  EXPECT_LT(q2, a2);
  // The first turn's reference is context; the second turn's is null, so shown once only.
  EXPECT_EQ(occurrences(user, "[참고 자료]"), 1u);
}

TEST(JudgeLogicKorKeval, BothReferencesShownWhenTheRowHasBoth) {
  const auto& task = judged_task("logickor_keval");
  const Sample& both = task.first([](const Sample& s) { return !logickor_reference(s, 0).empty() && !logickor_reference(s, 1).empty(); });
  const std::string user = protocol_for(task)->prompt(both, 1, {k_korean_answer, k_korean_answer_2})[1].content;
  EXPECT_TRUE(contains(user, logickor_reference(both, 0)));
  EXPECT_TRUE(contains(user, logickor_reference(both, 1)));
  EXPECT_EQ(occurrences(user, "[참고 자료]"), 2u);
}

TEST(JudgeLogicKorKeval, SystemPromptAsksForTheVerdictFormatAndKorean) {
  const auto& task = judged_task("logickor_keval");
  const auto protocol = protocol_for(task);
  const Sample& s = task.samples.front();
  for (int turn = 0; turn < 2; ++turn) {
    const std::string system = protocol->prompt(s, turn, {k_korean_answer, k_korean_answer_2})[0].content;
    EXPECT_TRUE(contains(system, "평가:")) << turn;
    EXPECT_TRUE(contains(system, "점수:")) << turn;
    EXPECT_TRUE(contains(system, "한국어로 작성")) << turn;  // the Korean-answer rule
    EXPECT_TRUE(contains(system, "0점")) << turn;            // and its consequence
  }
  // The multi-turn judge is told to judge the follow-up answer.
  EXPECT_NE(protocol->prompt(s, 0, {k_korean_answer})[0].content,
            protocol->prompt(s, 1, {k_korean_answer, k_korean_answer_2})[0].content);
  EXPECT_TRUE(contains(protocol->prompt(s, 1, {k_korean_answer, k_korean_answer_2})[0].content, "후속 질문"));
}

// evaluator.py's create_answers, transcribed from its code (instructkr/LogicKor 11c3a84), not
// from judge_template.json: the user message keval builds from the template must equal it.
std::string evaluator_prompt(const Sample& s, const std::vector<std::string>& outputs, bool multi_turn) {
  const auto& refs = s.fields.at("references");
  auto reference = [&](size_t i) { return i < refs.size() && refs[i].is_string() ? refs[i].get<std::string>() : ""; };
  std::string prompt = "아래의 내용을 주어진 평가 기준들을 충실히 반영하여 평가해라. 특히 모델 답변이 언어 요구사항을 준수하는지 "
                       "반드시 확인해야 한다.\n\n**Question**\n" + s.turns[0];
  if (!reference(0).empty()) prompt += "\n\n**Additional Reference**\n" + reference(0);
  prompt += "\n\n**Model's Response**\n" + outputs[0];
  if (multi_turn) {
    prompt += "\n\n**Follow-up Question.**\n" + s.turns[1];
    if (!reference(1).empty()) prompt += "\n\n**Additional Reference**\n" + reference(1);
    prompt += "\n\n**Model's Response**\n" + outputs[1];
  }
  return prompt + "\n\n[[대화 종료. 평가 시작.]]";
}

TEST(JudgeLogicKor, PromptsAreEvaluatorPysOnEveryQuestion) {
  const auto& task = judged_task("logickor");
  const auto protocol = protocol_for(task);
  ASSERT_EQ(task.samples.size(), 42u);
  // generator.py stores answers stripped; keval strips them for the judge the same way.
  const std::vector<std::string> raw = {"\n" + k_korean_answer + "  \n", " " + k_korean_answer_2 + "\n"};
  const std::vector<std::string> stripped = {k_korean_answer, k_korean_answer_2};
  size_t with_reference = 0;
  for (const auto& s : task.samples) {
    for (int turn = 0; turn < 2; ++turn) {
      const auto messages = protocol->prompt(s, turn, raw);
      ASSERT_EQ(messages.size(), 2u);
      EXPECT_EQ(messages[0].role, "system");
      EXPECT_EQ(messages[1].content, evaluator_prompt(s, stripped, turn == 1)) << s.id << " turn " << turn + 1;
      // templates.py JUDGE_TEMPLATE: the multi-turn judge is told about the follow-up.
      EXPECT_EQ(messages[0].content.find("후속 질문") != std::string::npos, turn == 1) << s.id;
    }
    with_reference += !logickor_reference(s, 0).empty();
  }
  EXPECT_GT(with_reference, 0u);
}

TEST(JudgeLogicKor, RatingReadsTheLabel) {
  for (const char* name : {"logickor", "logickor_keval"}) {
    const auto protocol = protocol_for(judged_task(name));
    EXPECT_EQ(protocol->rating("평가: 정확하고 완전한 답변이다.\n**점수: 9**"), 9.0) << name;
    EXPECT_EQ(protocol->rating("평가: 좋다.\n점수:7.5"), 7.5) << name;
    EXPECT_FALSE(protocol->rating("[[9]]")) << name;
    EXPECT_FALSE(protocol->rating("평가: 좋다. 점수는 9점")) << name;
  }
  // evaluator.py's pattern as written: an ASCII colon only, and no range check.
  const auto reference = protocol_for(judged_task("logickor"));
  EXPECT_FALSE(reference->rating("점수：9"));
  EXPECT_EQ(reference->rating("점수: 12"), 12.0);
  EXPECT_EQ(reference->attempts(), 5);
}

TEST(JudgeLogicKor, ScoreGivesBothTurnsAndTheirMean) {
  const auto& task = judged_task("logickor");
  const Sample& s = task.samples.front();
  SampleScore score;
  protocol_for(task)->score(s, {k_korean_answer, k_korean_answer_2}, rated({6, 9}), score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_single_turn"), 6.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_multi_turn"), 9.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score"), 7.5);
  EXPECT_EQ(score.meta.at("category"), s.fields.at("category"));
  EXPECT_FALSE(score.meta.at("category").get<std::string>().empty());

  SampleScore single;
  protocol_for(task)->score(s, {k_korean_answer}, rated({6}), single);
  EXPECT_DOUBLE_EQ(single.values.at("judge_score"), 6.0);
  EXPECT_EQ(single.values.count("judge_multi_turn"), 0u);
}

TEST(JudgeLogicKor, AnUnreadableVerdictCountsZeroAndIsLeftOutOfTheRatedVariant) {
  const auto& task = judged_task("logickor");
  const Sample& s = task.samples.front();
  SampleScore score;
  protocol_for(task)->score(s, {k_korean_answer, k_korean_answer_2}, {{8.0, false}, k_unreadable}, score);
  EXPECT_DOUBLE_EQ(score.values.at("judge_single_turn"), 8.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_multi_turn"), 0.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score"), 4.0);
  EXPECT_DOUBLE_EQ(score.values.at("judge_single_turn_rated"), 8.0);
  EXPECT_EQ(score.values.count("judge_multi_turn_rated"), 0u);
  EXPECT_DOUBLE_EQ(score.values.at("judge_score_rated"), 8.0);
  // A request that failed outright is no verdict: the sample is not scored.
  SampleScore failed;
  protocol_for(task)->score(s, {k_korean_answer, k_korean_answer_2}, {{8.0, false}, k_failed}, failed);
  EXPECT_EQ(failed.values.count("judge_score"), 0u);
}

TEST(JudgeLogicKor, DescribeAndBreakdown) {
  const auto& task = judged_task("logickor");
  const auto protocol = protocol_for(task);
  const json d = protocol->describe();
  EXPECT_EQ(d.at("protocol"), "logickor");
  EXPECT_EQ(d.at("attempts"), 5);
  EXPECT_EQ(d.at("prompts_file"), "logickor/judge_template.json");
  EXPECT_EQ(d.at("references_field"), "references");
  EXPECT_EQ(d.at("prompt_sha256").get<std::string>().size(), 64u);
  EXPECT_EQ(protocol->breakdown_metrics(), (std::vector<std::string>{"judge_single_turn", "judge_multi_turn"}));
}

// ---------------------------------------------------------------------------------------------
// Pairwise judging
// ---------------------------------------------------------------------------------------------

TEST(JudgePairVerdict, ReadsTheBracketedLetter) {
  EXPECT_EQ(pair_verdict("따라서 최종 판정은 [[A]]입니다."), PairVerdict::first);
  EXPECT_EQ(pair_verdict("[[B]]"), PairVerdict::second);
  EXPECT_EQ(pair_verdict("두 답변은 비슷합니다. [[C]]"), PairVerdict::tie);
  EXPECT_FALSE(pair_verdict("A가 더 낫습니다."));
  EXPECT_FALSE(pair_verdict("[A]"));
  EXPECT_FALSE(pair_verdict(""));
  // FastChat checks A, then B, then C.
  EXPECT_EQ(pair_verdict("[[B]]라고 할 수도 있지만 [[A]]"), PairVerdict::first);
}

TEST(JudgeCombineOrders, AgreementDecidesDisagreementTies) {
  // a_first: model A shown first; b_first: model B shown first (so "first" there is B).
  EXPECT_EQ(combine_orders(PairVerdict::first, PairVerdict::second), PairOutcome::win);   // A won both orders
  EXPECT_EQ(combine_orders(PairVerdict::second, PairVerdict::first), PairOutcome::loss);  // B won both orders
  EXPECT_EQ(combine_orders(PairVerdict::tie, PairVerdict::tie), PairOutcome::tie);
  // Position bias: the judge preferred whichever was shown first (or second) both times.
  EXPECT_EQ(combine_orders(PairVerdict::first, PairVerdict::first), PairOutcome::tie);
  EXPECT_EQ(combine_orders(PairVerdict::second, PairVerdict::second), PairOutcome::tie);
  // One order a tie, the other a win: not agreement.
  EXPECT_EQ(combine_orders(PairVerdict::first, PairVerdict::tie), PairOutcome::tie);
  EXPECT_EQ(combine_orders(PairVerdict::tie, PairVerdict::first), PairOutcome::tie);
}

TEST(JudgePairwise, FirstTurnShowsAnswersInTheGivenOrder) {
  const auto& task = judged_task("komt_bench");
  const PairwiseProtocol pairwise(task.spec(), task.data);
  const Sample& writing = task.in_category("writing");
  const auto [system, pattern] = komt_prompt("pair-v2");
  const std::string model_a = k_korean_answer, model_b = k_korean_answer_2;

  const auto ab = pairwise.prompt(writing, 0, {model_a}, {model_b});
  ASSERT_EQ(ab.size(), 2u);
  EXPECT_EQ(ab[0].content, system);
  EXPECT_EQ(ab[1].content, fill(pattern, {{"question", writing.turns[0]}, {"answer_a", model_a}, {"answer_b", model_b}}));
  EXPECT_LT(ab[1].content.find(model_a), ab[1].content.find(model_b));

  // Swapped for the second order: B is now assistant A.
  const auto ba = pairwise.prompt(writing, 0, {model_b}, {model_a});
  EXPECT_EQ(ba[1].content, fill(pattern, {{"question", writing.turns[0]}, {"answer_a", model_b}, {"answer_b", model_a}}));
  EXPECT_LT(ba[1].content.find(model_b), ba[1].content.find(model_a));
}

TEST(JudgePairwise, MathUsesTheReferencePrompt) {
  const auto& task = judged_task("komt_bench");
  const PairwiseProtocol pairwise(task.spec(), task.data);
  const Sample& math = task.in_category("math");
  const auto reference = komt_reference(math.id);
  ASSERT_EQ(reference.size(), 2u);

  const auto [system, pattern] = komt_prompt("pair-math-v1");
  const auto first = pairwise.prompt(math, 0, {k_korean_answer}, {k_english_answer});
  EXPECT_EQ(first[0].content, system);
  EXPECT_EQ(first[1].content, fill(pattern, {{"question", math.turns[0]}, {"ref_answer_1", reference[0]},
                                             {"answer_a", k_korean_answer}, {"answer_b", k_english_answer}}));

  const auto [multi_system, multi_pattern] = komt_prompt("pair-math-v1-multi-turn");
  const auto second = pairwise.prompt(math, 1, {k_korean_answer, k_korean_answer_2}, {k_english_answer, k_half_korean_answer});
  EXPECT_EQ(second[0].content, multi_system);
  EXPECT_EQ(second[1].content,
            fill(multi_pattern, {{"question_1", math.turns[0]}, {"question_2", math.turns[1]},
                                 {"ref_answer_1", reference[0]}, {"ref_answer_2", reference[1]},
                                 {"answer_a_1", k_korean_answer}, {"answer_a_2", k_korean_answer_2},
                                 {"answer_b_1", k_english_answer}, {"answer_b_2", k_half_korean_answer}}));
}

TEST(JudgePairwise, SecondTurnShowsBothConversationsInOrder) {
  const auto& task = judged_task("komt_bench");
  const PairwiseProtocol pairwise(task.spec(), task.data);
  const Sample& writing = task.in_category("writing");
  const auto messages = pairwise.prompt(writing, 1, {k_korean_answer, k_korean_answer_2}, {k_english_answer, k_half_korean_answer});
  const auto [system, pattern] = komt_prompt("pair-v2-multi-turn");
  EXPECT_EQ(messages[0].content, system);
  const std::string& user = messages[1].content;
  EXPECT_EQ(user, fill(pattern, {{"question_1", writing.turns[0]}, {"question_2", writing.turns[1]},
                                 {"answer_a_1", k_korean_answer}, {"answer_a_2", k_korean_answer_2},
                                 {"answer_b_1", k_english_answer}, {"answer_b_2", k_half_korean_answer}}));
  // Assistant A's whole conversation comes before B's.
  EXPECT_LT(user.find(k_korean_answer_2), user.find(k_english_answer));
}

TEST(JudgePairwise, NeedsAnMtBenchTask) {
  const auto& task = judged_task("logickor");
  const std::string message = expect_input_error([&] { PairwiseProtocol(task.spec(), task.data); });
  EXPECT_TRUE(contains(message, "logickor")) << message;
}

TEST(JudgePairwise, DescribeNamesThePairwiseProtocol) {
  const auto& task = judged_task("komt_bench");
  const json d = PairwiseProtocol(task.spec(), task.data).describe();
  EXPECT_EQ(d.at("protocol"), "mt_bench_pairwise");
  EXPECT_EQ(d.at("data_sha256"), task.data.sha256);
  EXPECT_EQ(d.at("verdict"), "[[A]] | [[B]] | [[C]]");
  // Recorded apart from single grading: a pairwise run is never compared to a graded one.
  EXPECT_NE(d, protocol_for(task)->describe());
}

// ---------------------------------------------------------------------------------------------
// Judge metrics in metrics.h
// ---------------------------------------------------------------------------------------------

TEST(JudgeMetrics, CategoryMetricFindsItsBase) {
  const MetricDefinition* base = find_metric("judge_score");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(find_metric("judge_score/math"), base);
  EXPECT_EQ(find_metric("judge_single_turn/추론(Reasoning)")->name, "judge_single_turn");
  EXPECT_TRUE(base->higher_is_better);
  EXPECT_EQ(base->estimator, Estimator::resampled);  // pooled over turns, weighted
  EXPECT_EQ(find_metric("judge_nonsense/math"), nullptr);
}

TEST(JudgeMetrics, JudgeRatingsAggregateAsAPlainMean) {
  std::vector<SampleScore> samples(3);
  samples[0].values["judge_single_turn"] = 6;
  samples[1].values["judge_single_turn"] = 9;
  samples[2].values["judge_single_turn"] = 7.5;
  const MetricEstimate e = aggregate_metric("judge_single_turn", samples);
  ASSERT_TRUE(e.value);
  EXPECT_DOUBLE_EQ(*e.value, 7.5);
  EXPECT_EQ(e.n, 3);
  ASSERT_TRUE(e.ci_low && e.ci_high);
  EXPECT_LE(*e.ci_low, 7.5);
  EXPECT_GE(*e.ci_high, 7.5);
}

} // namespace
} // namespace keval
