#include "answer_text.h"

#include "normalize.h"

namespace keval {

std::string answer_text(std::string_view text, ThinkPolicy policy) {
  if (policy == ThinkPolicy::keep || text.find("think>") == std::string_view::npos) return std::string(text);
  return normalize::strip_think(text);
}

} // namespace keval
