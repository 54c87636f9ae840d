#pragma once
// The one place model output and references are normalised before comparison. Every scorer goes
// through here so that "정답" typed as decomposed jamo, full-width "Ｂ" or an ideographic space
// compare equal to their plain forms. Bump k_normalizer_version whenever a result could change.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keval::normalize {

inline constexpr const char* k_normalizer_version = "1";

// NFC, full-width ASCII (U+FF01–FF5E) to ASCII, ideographic space to space, runs of white space
// folded to one space, trimmed. Case is kept. Invalid UTF-8 becomes U+FFFD.
std::string for_compare(std::string_view s);

// Removes reasoning blocks: every `<think>…</think>`; an unclosed `<think>` drops everything after
// it; a `</think>` with no opening tag drops everything before it (chat templates that open the
// block in the prompt). The result is trimmed.
std::string strip_think(std::string_view s);

// Hangul letters / all letters (Unicode general category L*), after NFC; digits, punctuation,
// symbols and spaces are ignored. 0 when there is no letter.
double hangul_share(std::string_view s);

// The first number in `s`: "1,000원" → 1000, "3.5점" → 3.5, "-2" → -2, full-width digits.
// When `s` holds no Arabic digit, a Sino-Korean numeral standing as a word ("삼십", "백이십삼점",
// "천") is read instead. Empty when there is none.
std::optional<double> parse_number(std::string_view s);

// Every Arabic number in `s`, in order, read as parse_number reads the first; when there is none,
// the Sino-Korean numeral parse_number would read (if any). For answers whose number comes last
// ("3개씩 5묶음이면 … 답은 15").
std::vector<double> parse_numbers(std::string_view s);

// Whether `s` is well-formed UTF-8 (no stray continuation bytes, overlongs or surrogates).
// Scorers flag responses that are not: their text was compared with U+FFFD in place of the bytes.
bool is_valid_utf8(std::string_view s);

} // namespace keval::normalize
