#pragma once
// Reads which choice a generated answer picks. Models answer multiple-choice questions in many
// ways ("B", "정답은 3번입니다", "(C)", "①", "The answer is D", the text of the option), and they
// reason aloud, so numbers in the reasoning ("2023년", "3개의") must not count as answers.
//
// Tiers, first that decides wins (docs/extraction.md has the patterns and the version history):
//  1. explicit assertions: "정답은 X", "정답: X", "답: X번", "The answer is X", "X번이 정답",
//     "X가 맞습니다", "X is correct", "B seems most plausible", "I think C", "정답은 1번이 아니라 3번",
//     "부산이 정답입니다" (a choice's text); a negated mention does not count;
//  2. a per-option verdict list with exactly one positive verdict ("A: 틀림, B: 틀림, C: 맞음");
//  3. a label with a copula or a hedge: "따라서 3번입니다", "B일 것 같습니다";
//  4. a response that is only a label ("B", "(C)", "3번", "**B**", "세 번째 보기");
//  5. a choice's text with a copula ("할머니입니다"), unless it ranks or describes options;
//  6. with a "cannot be determined" choice (KoBBQ), the model saying so in its own words;
//  7. a refusal ("답변드릴 수 없습니다") ends the search: unparsed;
//  8. a label at the very start followed by punctuation or the end ("B. 재무상태표", "(C) 설명");
//  9. the text of exactly one choice.
// Labels may also be named by position ("세 번째 보기", "두번째 선택지", "the third option").
// Within tiers 1, 3 and 5, several different answers are a conflict: unparsed. Circled digits ①–⑤
// always mean choices 1–5, whatever the labels; ㉠ labels also answer to ㄱ and ㈀, 가 labels to ㉮.
// The response is the answer text (reasoning blocks already removed by the caller, answer_text.h);
// it goes through normalize::for_compare first.
// Bump k_extractor_version whenever a result could change.
#include <string>
#include <string_view>
#include <vector>

namespace keval {

inline constexpr const char* k_extractor_version = "2";

struct ChoiceExtraction {
  int index = -1;        // 0-based choice, -1 when none could be read
  std::string matched;   // the span the answer was read from (e.g. "3번", "(B)", "부정"), for display
  bool unparsed() const { return index < 0; }
};

// `labels` are what the model was asked to answer with (A–E, 1–5, ①–⑤, 가–마, …; may be empty);
// `choice_texts` the options themselves. The number of choices is labels.size() when labels are
// given, else choice_texts.size().
ChoiceExtraction extract_choice(std::string_view response, const std::vector<std::string>& labels,
                                const std::vector<std::string>& choice_texts);

} // namespace keval
