#pragma once
// Readers for delimited text. Both report 1-based line numbers so errors can name them.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace keval {

struct DelimitedRow {
  size_t line = 0; // 1-based line where the record starts
  std::vector<std::string> cells;
};

// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. Throws InputError
// naming `path` and the line on an unterminated quote.
std::vector<DelimitedRow> parse_csv(std::string_view content, const std::string& path);

// TSV with quoting disabled: a double quote is an ordinary character (KorNLI, KorSTS).
std::vector<DelimitedRow> parse_tsv(std::string_view content);

std::string read_file(const std::string& path); // throws InputError naming the path

} // namespace keval
