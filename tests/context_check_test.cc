// The context check counts only each task's longest prompts and names every task that cannot
// fit, by how much, with what to change for that server.
#include <gtest/gtest.h>

#include "context_check.h"
#include "error.h"

namespace keval {
namespace {

// Counts a token a character (Hangul syllables included) and remembers what it was asked.
class CountingBackend final : public Backend {
public:
  std::string kind() const override { return "counting"; }
  bool supports_loglikelihood(std::string_view) const override { return false; }
  void answer(std::span<const Request>, const std::function<void(size_t, Response)>&) override {}
  std::optional<std::vector<long long>> count_tokens(const std::vector<std::string>& texts) override {
    asked.insert(asked.end(), texts.begin(), texts.end());
    std::vector<long long> out;
    for (const auto& t : texts) {
      long long n = 0;
      for (unsigned char c : t) n += (c & 0xC0) != 0x80;
      out.push_back(n);
    }
    return out;
  }
  std::vector<std::string> asked;
};

std::string syllables(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += "가";
  return s;
}

TEST(ContextCheck, CountsOnlyTheLongestPromptsOfEachTask) {
  ContextCheck check;
  for (size_t n : {5, 40, 12, 7, 33, 2, 38}) check.add("long_task", syllables(n), 10);
  check.add("short_task", syllables(3), 10);
  CountingBackend backend;
  BackendOptions options;
  options.base_urls = {"http://127.0.0.1:8000/v1"};
  const nlohmann::json vllm = {{"models", {{{"id", "m"}, {"max_model_len", 1000}}}}};
  const auto per_character = check.check(backend, vllm, options, false);
  ASSERT_EQ(backend.asked.size(), ContextCheck::k_longest_per_task + 1);
  EXPECT_EQ(backend.asked[0], syllables(40));  // longest first
  EXPECT_EQ(backend.asked[1], syllables(38));
  EXPECT_EQ(backend.asked[2], syllables(33));
  EXPECT_DOUBLE_EQ(per_character.at("long_task"), 1.0);
  EXPECT_DOUBLE_EQ(per_character.at("short_task"), 1.0);
}

TEST(ContextCheck, NamesEveryTaskThatCannotFitAndWhatToChange) {
  ContextCheck check;
  check.add("fits", syllables(20), 10);
  check.add("over_by_generation", syllables(25), 10);  // 25 + 10 > 30
  check.add("over_by_prompt", syllables(40), 0);
  CountingBackend backend;
  BackendOptions options;
  options.base_urls = {"http://127.0.0.1:8000/v1"};
  const nlohmann::json vllm = {{"models", {{{"id", "m"}, {"max_model_len", 30}}}}};
  try {
    check.check(backend, vllm, options, false);
    FAIL() << "expected the plan to be refused";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("2 tasks do not fit"), std::string::npos) << m;
    EXPECT_NE(m.find("over_by_generation: the longest prompt is 25 tokens + 10 to generate against 30; 5 over"), std::string::npos) << m;
    EXPECT_NE(m.find("over_by_prompt: the longest prompt is 40 tokens against 30; 10 over"), std::string::npos) << m;
    EXPECT_EQ(m.find("fits:"), std::string::npos) << m;
    EXPECT_NE(m.find("--max-model-len 40"), std::string::npos) << m;
  }

  // llama.cpp: the prompt alone must fit the slot; -c is shared by the slots.
  ContextCheck llama_check;
  llama_check.add("task", syllables(30), 500);
  const nlohmann::json llama = {{"props", {{"n_ctx", 30}, {"total_slots", 4}}}};
  try {
    llama_check.check(backend, llama, options, false);
    FAIL() << "a prompt of n_ctx tokens does not fit";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("task: the longest prompt is 30 tokens against 30; 1 over"), std::string::npos) << m;
    EXPECT_NE(m.find("-c 124"), std::string::npos) << m;  // 4 slots x 31
    EXPECT_NE(m.find("--parallel 1 -c 31"), std::string::npos) << m;
  }
}

TEST(ContextCheck, ServersThatStateNoLimitOrCannotCountAreNotChecked) {
  ContextCheck check;
  check.add("task", syllables(100), 10);
  CountingBackend backend;
  BackendOptions options;
  const nlohmann::json hosted = {{"models", {{{"id", "gpt-4o"}}}}};
  // No limit: nothing refused, but the counts still estimate tokens.
  EXPECT_DOUBLE_EQ(check.check(backend, hosted, options, false).at("task"), 1.0);
  EXPECT_TRUE(check.check(backend, nlohmann::json(), options, false).empty());
}

} // namespace
} // namespace keval
