#include "delimited.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "error.h"

namespace keval {
namespace {

constexpr std::string_view k_bom = "\xEF\xBB\xBF";

size_t skip_bom(std::string_view content) {
  return content.substr(0, k_bom.size()) == k_bom ? k_bom.size() : 0;
}

// Length of the line break at `i` (CRLF, LF or a lone CR), 0 when there is none.
size_t line_break_length(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  if (s[i] == '\n') return 1;
  if (s[i] == '\r') return (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
  return 0;
}

} // namespace

std::vector<DelimitedRow> parse_csv(std::string_view content, const std::string& path) {
  std::vector<DelimitedRow> rows;
  const size_t n = content.size();
  size_t i = skip_bom(content);
  size_t line = 1;
  while (i < n) {
    // Blank lines between records carry no data (a quoted empty field is not blank).
    if (const size_t br = line_break_length(content, i)) {
      i += br;
      ++line;
      continue;
    }
    DelimitedRow row;
    row.line = line;
    for (;;) {
      std::string cell;
      if (i < n && content[i] == '"') {
        const size_t open_line = line;
        ++i;
        for (;;) {
          const size_t stop = content.find_first_of("\"\r\n", i);
          if (stop == std::string_view::npos) {
            throw InputError(path + ":" + std::to_string(open_line) + ": unterminated quoted field");
          }
          cell.append(content.substr(i, stop - i));
          i = stop;
          if (content[i] == '"') {
            if (i + 1 < n && content[i + 1] == '"') {
              cell += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          // A line break inside quotes is data; keep it byte for byte but count the line.
          const size_t br = line_break_length(content, i);
          cell.append(content.substr(i, br));
          i += br;
          ++line;
        }
      }
      // Unquoted text, or anything after a closing quote, is taken literally (as Python's csv
      // module does) rather than rejected: stray quotes appear in real datasets.
      size_t stop = content.find_first_of(",\r\n", i);
      if (stop == std::string_view::npos) stop = n;
      cell.append(content.substr(i, stop - i));
      i = stop;
      row.cells.push_back(std::move(cell));
      if (i < n && content[i] == ',') {
        ++i;
        continue;
      }
      if (const size_t br = line_break_length(content, i)) {
        i += br;
        ++line;
      }
      break;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<DelimitedRow> parse_tsv(std::string_view content) {
  std::vector<DelimitedRow> rows;
  const size_t n = content.size();
  size_t i = skip_bom(content);
  for (size_t line = 1; i < n; ++line) {
    size_t end = content.find('\n', i);
    if (end == std::string_view::npos) end = n;
    std::string_view text = content.substr(i, end - i);
    i = end + 1;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) continue; // the trailing newline's empty "line", or a blank one
    DelimitedRow row;
    row.line = line;
    for (size_t start = 0;;) {
      const size_t tab = text.find('\t', start);
      if (tab == std::string_view::npos) {
        row.cells.emplace_back(text.substr(start));
        break;
      }
      row.cells.emplace_back(text.substr(start, tab - start));
      start = tab + 1;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string read_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw InputError("cannot read " + path + ": " + std::strerror(errno));
  std::string content;
  char buffer[1 << 16];
  for (;;) {
    const size_t got = std::fread(buffer, 1, sizeof buffer, f.get());
    content.append(buffer, got);
    if (got < sizeof buffer) {
      // A directory opens fine on Linux and only fails here (EISDIR).
      if (std::ferror(f.get())) throw InputError("cannot read " + path + ": " + std::strerror(errno));
      break;
    }
  }
  return content;
}

} // namespace keval
