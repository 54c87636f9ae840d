#pragma once
// Prompts checked against the server's context before a run sends anything. Where the server
// states its context size (llama.cpp's /props per-slot n_ctx, vLLM's and SGLang's max_model_len
// on /v1/models, TGI's /info) and counts tokens (its /tokenize), the longest prompts of each task
// (by characters; a few per task, so the work is bounded) are counted; a task whose longest
// prompt, with the tokens it may generate, does not fit fails the plan with one message naming
// every such task, by how much, and what to change. The same counts give each task's estimated
// tokens (tokens per character of the counted prompts, times the task's characters).
//
// Judge prompts are built from the model's answers, which do not exist at plan time: each is
// checked with its answers left empty (a certain overflow fails the plan) and with every answer
// as long as the model may make it (--max-tokens): that bound overflowing is a warning, since
// most answers are shorter. A judge prompt that still overflows fails as context_exceeded.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend.h"

namespace keval {

class ContextCheck {
public:
  static constexpr size_t k_longest_per_task = 3;

  // A prompt of `task` sent with room for `max_new_tokens` generated tokens; `answer_tokens`:
  // the most its text may still grow (a judge prompt's answers, unknown at plan time).
  void add(const std::string& task, const std::string& text, long long max_new_tokens, long long answer_tokens = 0);

  // Counts the kept prompts with `backend` and compares them with the limit `endpoint` (an
  // identity record, server_probe.h) states. `judge`: these are a judge's prompts. Throws
  // InputError naming every task that cannot fit; prints a warning for judge prompts that may
  // not. Returns each task's tokens per character (empty when the server states no limit or
  // cannot count).
  std::map<std::string, double> check(Backend& backend, const nlohmann::json& endpoint, const BackendOptions& options,
                                      bool judge) const;

  bool empty() const { return m_kept.empty(); }

private:
  struct Prompt {
    std::string text;
    size_t characters = 0;
    long long max_new_tokens = 0;
    long long answer_tokens = 0;
  };
  std::map<std::string, std::vector<Prompt>> m_kept;  // task -> its longest prompts, longest first
};

} // namespace keval
