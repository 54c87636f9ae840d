// answer_text: the one place a reasoning block is removed before scoring and judging.
#include <gtest/gtest.h>

#include "answer_text.h"

namespace keval {
namespace {

TEST(AnswerText, StripRemovesTheReasoningBlockOnly) {
  EXPECT_EQ(answer_text("<think>먼저 생각해 보면…</think>정답은 B", ThinkPolicy::strip), "정답은 B");
  EXPECT_EQ(answer_text("<think>끝나지 않은 추론", ThinkPolicy::strip), "");
  EXPECT_EQ(answer_text("템플릿이 연 추론</think>\n\n답: 3", ThinkPolicy::strip), "답: 3");
  // Without a tag the answer is kept verbatim, spaces and all (as FastChat keeps a judged answer).
  EXPECT_EQ(answer_text("  정답은 B입니다.\n", ThinkPolicy::strip), "  정답은 B입니다.\n");
}

TEST(AnswerText, KeepLeavesTheTextAsWritten) {
  const std::string raw = "<think>답은 C인가?</think> 정답은 B";
  EXPECT_EQ(answer_text(raw, ThinkPolicy::keep), raw);
  EXPECT_EQ(think_policy(true), ThinkPolicy::keep);
  EXPECT_EQ(think_policy(false), ThinkPolicy::strip);
}

} // namespace
} // namespace keval
