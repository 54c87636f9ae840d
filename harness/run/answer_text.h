#pragma once
// The text of a model's answer as it is scored and judged. A reasoning model's <think>…</think>
// block is not its answer: by default it is removed, once, here, before any scorer or judge
// sees the text (`--keep-think` keeps it). The stored response always keeps the raw text.
#include <string>
#include <string_view>

namespace keval {

enum class ThinkPolicy {
  strip,  // remove <think>…</think> blocks (and an unfinished one with all that follows)
  keep,   // score and judge the text as the model wrote it
};

// `text` as scorers and judges take it. With `strip`, a text holding no think tag is returned as
// it is (FastChat's API path keeps answers verbatim); one that holds a tag loses its reasoning
// block(s), trimmed (normalize::strip_think).
std::string answer_text(std::string_view text, ThinkPolicy policy);

inline ThinkPolicy think_policy(bool keep_think) { return keep_think ? ThinkPolicy::keep : ThinkPolicy::strip; }

} // namespace keval
