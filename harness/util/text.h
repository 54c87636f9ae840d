#pragma once
// UTF-8 helpers that know nothing of keval. Korean text is compared after NFC normalisation
// and measured in code points, never bytes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keval::text {

// Unicode NFC. Invalid UTF-8 sequences become U+FFFD; `had_invalid` (optional) says whether any did.
std::string nfc(std::string_view s, bool* had_invalid = nullptr);

// Replaces invalid UTF-8 sequences with U+FFFD; returns true when any were replaced.
bool make_valid_utf8(std::string& s);

// Byte offset of the first invalid UTF-8 sequence; nullopt when `s` is valid UTF-8.
std::optional<size_t> first_invalid_utf8(std::string_view s);

// Decodes UTF-8 to code points (invalid bytes decode to U+FFFD).
std::vector<char32_t> decode(std::string_view s);
std::string encode(char32_t cp);
std::string encode(const std::vector<char32_t>& cps);

// Number of code points.
size_t char_count(std::string_view s);
// Python's str.isspace() for one code point (ASCII controls 9-13 and 28-31, spaces, U+0085,
// U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
bool is_python_space(char32_t c);
// How many bytes at the end of `s` Python's `s.rstrip()` removes.
size_t trailing_space_bytes(std::string_view s);

// Lower-cases every code point (Unicode simple case mapping).
std::string lower(std::string_view s);

bool is_space(char32_t cp);   // Unicode White_Space
bool is_hangul(char32_t cp);  // syllables, jamo and compatibility jamo

// Trims Unicode white space at both ends.
std::string trim(std::string_view s);
// Splits on runs of Unicode white space (like Python's str.split()).
std::vector<std::string> split_whitespace(std::string_view s);
// Collapses runs of white space to one ASCII space and trims.
std::string fold_whitespace(std::string_view s);

std::vector<std::string> split(std::string_view s, char sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// Strips a leading UTF-8 byte-order mark.
std::string_view strip_bom(std::string_view s);

// Levenshtein distance, for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b);
// The candidates closest to `name` (at most 3), for "did you mean …".
std::vector<std::string> closest(std::string_view name, const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

} // namespace keval::text
