#pragma once
// Whitespace a reader of a prompt cannot see but a model gets: two spaces in a row, spaces at the
// end of a line or of the text. `keval samples` names them, so that lm-evaluation-harness's
// double space (kept on purpose, so that scores compare) is not taken for a bug, nor a bug for it.
#include <string>
#include <vector>

namespace keval::cli {

struct WhitespaceNote {
  std::string what;  // "two spaces in a row", "space at the end of a line", "ends with whitespace"
  int count = 0;     // how often it occurs
  int line = 0;      // the first occurrence: line and column, 1-based, in characters
  int column = 0;
};

std::vector<WhitespaceNote> whitespace_notes(const std::string& text);

} // namespace keval::cli
