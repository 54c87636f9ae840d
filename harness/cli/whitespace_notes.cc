#include "whitespace_notes.h"

#include <map>

#include "text.h"

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
  auto blank = [](char32_t c) { return c == U' ' || c == U'\t'; };
  int line = 1, column = 0;
  for (size_t i = 0; i < chars.size();) {
    if (chars[i] == U'\n') {
      ++line;
      column = 0;
      ++i;
      continue;
    }
    if (!blank(chars[i])) {
      ++column;
      ++i;
      continue;
    }
    // A run of blanks, classified by what ends it; indentation (column 1) is not odd.
    size_t end = i;
    while (end < chars.size() && blank(chars[end])) ++end;
    const int first = column + 1, last = column + static_cast<int>(end - i);
    if (end == chars.size()) note("ends with whitespace", line, last);
    else if (chars[end] == U'\n') note("space at the end of a line", line, last);
    else if (end - i >= 2 && first > 1) note("two spaces in a row", line, first);
    column = last;
    i = end;
  }
  if (!chars.empty() && chars.back() == U'\n') note("ends with whitespace", line, 0);
  return notes;
}

} // namespace keval::cli
