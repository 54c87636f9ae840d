#include "whitespace_notes.h"

#include <map>

#include "util/text.h"

namespace keval::cli {

std::vector<WhitespaceNote> whitespace_notes(const std::string& text) {
  std::vector<WhitespaceNote> notes;
  std::map<std::string, size_t> index;
  auto note = [&](const std::string& what, int line, int column) {
    auto [it, added] = index.emplace(what, notes.size());
    if (added) notes.push_back({what, 0, line, column});
    ++notes[it->second].count;
  };
  const std::vector<char32_t> chars = text::decode(text);  // columns count characters, not bytes
  int line = 1, column = 0;
  for (size_t i = 0; i < chars.size(); ++i) {
    const char32_t c = chars[i];
    if (c == U'\n') {
      ++line;
      column = 0;
      continue;
    }
    ++column;
    const bool blank = c == U' ' || c == U'\t';
    if (!blank) continue;
    const char32_t next = i + 1 < chars.size() ? chars[i + 1] : U'\0';
    const bool run_start = i == 0 || (chars[i - 1] != U' ' && chars[i - 1] != U'\t');
    if (next == U'\n') {
      note("space at the end of a line", line, column);  // once per line, at its last blank
    } else if (next == U'\0') {
      note("ends with whitespace", line, column);
    } else if (c == U' ' && next == U' ' && run_start && column > 1) {  // indentation is not odd
      note("two spaces in a row", line, column);
    }
  }
  if (!chars.empty() && chars.back() == U'\n') note("ends with whitespace", line, 0);
  return notes;
}

} // namespace keval::cli
