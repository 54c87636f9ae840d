#include "normalize.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <utf8proc.h>

#include "text.h"

namespace keval::normalize {

std::string for_compare(std::string_view s) {
  const std::string composed = text::nfc(s);
  // Byte-level mapping (the input is valid UTF-8 now): U+FF01–FF5E are EF BC 81–BF and
  // EF BD 80–9E, U+3000 is E3 80 80. Avoids decoding the common case.
  std::string mapped;
  mapped.reserve(composed.size());
  const size_t n = composed.size();
  for (size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(composed[i]);
    if (b == 0xEF && i + 2 < n) {
      const auto b1 = static_cast<unsigned char>(composed[i + 1]);
      const auto b2 = static_cast<unsigned char>(composed[i + 2]);
      if (b1 == 0xBC && b2 >= 0x81 && b2 <= 0xBF) {
        mapped += static_cast<char>(b2 - 0x60);
        i += 2;
        continue;
      }
      if (b1 == 0xBD && b2 >= 0x80 && b2 <= 0x9E) {
        mapped += static_cast<char>(b2 - 0x20);
        i += 2;
        continue;
      }
    } else if (b == 0xE3 && i + 2 < n && static_cast<unsigned char>(composed[i + 1]) == 0x80 &&
               static_cast<unsigned char>(composed[i + 2]) == 0x80) {
      mapped += ' ';
      i += 2;
      continue;
    }
    mapped += static_cast<char>(b);
  }
  return text::fold_whitespace(mapped);
}

std::string strip_think(std::string_view s) {
  constexpr std::string_view k_open = "<think>";
  constexpr std::string_view k_close = "</think>";
  std::string out;
  size_t pos = 0;
  const size_t first_open = s.find(k_open);
  const size_t first_close = s.find(k_close);
  if (first_close != std::string_view::npos && (first_open == std::string_view::npos || first_close < first_open))
    pos = first_close + k_close.size();
  while (pos <= s.size()) {
    const size_t open = s.find(k_open, pos);
    if (open == std::string_view::npos) {
      out.append(s.substr(pos));
      break;
    }
    out.append(s.substr(pos, open - pos));
    const size_t close = s.find(k_close, open + k_open.size());
    if (close == std::string_view::npos) break;  // unfinished reasoning: nothing after it is an answer
    pos = close + k_close.size();
  }
  return text::trim(out);
}

double hangul_share(std::string_view s) {
  size_t letters = 0;
  size_t hangul = 0;
  for (char32_t cp : text::decode(text::nfc(s))) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    const bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
    if (!letter) continue;
    ++letters;
    if (text::is_hangul(cp)) ++hangul;
  }
  return letters == 0 ? 0.0 : static_cast<double>(hangul) / static_cast<double>(letters);
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The first number at or after `from`; `end` (optional) receives where it stops.
std::optional<double> arabic_number(const std::string& t, size_t from = 0, size_t* end = nullptr) {
  size_t i = from;
  while (i < t.size() && !is_digit(t[i])) ++i;
  if (i == t.size()) return std::nullopt;
  bool negative = false;
  // A sign counts only when it starts a word: "-2" and "점수: -2" but not "A-2" or "3-2".
  if (i >= 1 && (t[i - 1] == '-' || t[i - 1] == '+') && (i == 1 || !is_ascii_alnum(t[i - 2])))
    negative = t[i - 1] == '-';
  else if (i >= 3 && t.compare(i - 3, 3, "\xE2\x88\x92") == 0)  // U+2212 MINUS SIGN
    negative = true;
  std::string digits;
  size_t j = i;
  while (j < t.size() && is_digit(t[j])) digits += t[j++];
  // Thousands separators: a comma followed by exactly three digits ("1,000원", "12,345,678").
  while (j + 3 < t.size() && t[j] == ',' && is_digit(t[j + 1]) && is_digit(t[j + 2]) && is_digit(t[j + 3]) &&
         (j + 4 >= t.size() || !is_digit(t[j + 4]))) {
    digits.append(t, j + 1, 3);
    j += 4;
  }
  if (j + 1 < t.size() && t[j] == '.' && is_digit(t[j + 1])) {
    digits += '.';
    ++j;
    while (j < t.size() && is_digit(t[j])) digits += t[j++];
  }
  if (end) *end = j;
  double value = 0;
  const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (res.ec != std::errc()) return std::nullopt;
  return negative ? -value : value;
}

int sino_digit(char32_t cp) {
  switch (cp) {
    case U'영': return 0;
    case U'일': return 1;
    case U'이': return 2;
    case U'삼': return 3;
    case U'사': return 4;
    case U'오': return 5;
    case U'육': return 6;
    case U'칠': return 7;
    case U'팔': return 8;
    case U'구': return 9;
    default: return -1;
  }
}

// 조 is left out on purpose: "구조" (structure) would read as 9×10^12.
double sino_unit(char32_t cp) {
  switch (cp) {
    case U'십': return 10;
    case U'백': return 100;
    case U'천': return 1000;
    case U'만': return 1e4;
    case U'억': return 1e8;
    default: return 0;
  }
}

struct SinoValue {
  double value = 0;
  bool has_unit = false;
};

// A well-formed numeral: units fall within each 만/억 section ("백이십삼", "삼천오백만"); two digits in
// a row ("이삼") or a unit repeated ("천천히") are not numbers.
std::optional<SinoValue> sino_value(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  double total = 0;
  double section = 0;
  int digit = -1;
  double last_small = 1e9;
  double last_big = 1e18;
  bool has_unit = false;
  for (size_t i = begin; i < end; ++i) {
    const int d = sino_digit(cps[i]);
    const double u = sino_unit(cps[i]);
    if (d >= 0) {
      if (digit >= 0) return std::nullopt;
      digit = d;
    } else if (u >= 10 && u <= 1000) {
      if (u >= last_small || digit == 0) return std::nullopt;
      section += (digit < 0 ? 1 : digit) * u;
      digit = -1;
      last_small = u;
      has_unit = true;
    } else if (u > 1000) {
      if (u >= last_big || digit == 0) return std::nullopt;
      double part = section + (digit < 0 ? 0 : digit);
      if (part == 0) part = 1;  // "만" alone is ten thousand
      total += part * u;
      section = 0;
      digit = -1;
      last_small = 1e9;
      last_big = u;
      has_unit = true;
    } else {
      return std::nullopt;
    }
  }
  return SinoValue{total + section + (digit < 0 ? 0 : digit), has_unit};
}

bool starts_with_any(const std::vector<char32_t>& cps, size_t pos, size_t end,
                     const std::vector<std::u32string_view>& words) {
  for (auto w : words) {
    if (pos + w.size() > end) continue;
    bool same = true;
    for (size_t k = 0; k < w.size() && same; ++k) same = cps[pos + k] == w[k];
    if (same) return true;
  }
  return false;
}

// What may follow a numeral inside its word: a counter or a particle ("삼십점", "백이십삼입니다").
const std::vector<std::u32string_view>& numeral_followers() {
  static const std::vector<std::u32string_view> words = {
      U"점", U"개", U"원", U"명", U"살", U"세", U"위", U"배", U"번", U"등", U"회", U"장", U"권", U"층",
      U"마리", U"가지", U"퍼센트", U"프로", U"년", U"입니다", U"이다", U"이에요", U"예요", U"이요", U"요",
      U"이고", U"이며", U"은", U"는", U"이", U"가", U"을", U"를", U"으로", U"로", U"도", U"에", U"의", U"쯤",
      U"정도", U"이상", U"이하", U"미만", U"초과", U"인"};
  return words;
}

std::optional<double> sino_korean_number(const std::string& t) {
  const auto cps = text::decode(t);
  auto syllable = [](char32_t cp) { return cp >= 0xAC00 && cp <= 0xD7A3; };
  size_t words = 0;
  for (size_t i = 0; i < cps.size();) {
    if (!syllable(cps[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < cps.size() && syllable(cps[end])) ++end;
    ++words;
    i = end;
  }
  for (size_t i = 0; i < cps.size();) {
    if (!syllable(cps[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < cps.size() && syllable(cps[end])) ++end;
    size_t run = i;
    while (run < end && (sino_digit(cps[run]) >= 0 || sino_unit(cps[run]) > 0)) ++run;
    // Longest well-formed numeral first; "삼십이다" falls back to "삼십" + "이다".
    for (size_t stop = run; stop > i; --stop) {
      auto v = sino_value(cps, i, stop);
      if (!v) continue;
      const bool rest_ok = stop == end || starts_with_any(cps, stop, end, numeral_followers());
      if (!rest_ok) continue;
      // A lone digit syllable is too often a word ("이", "사", "오점"): accept it only as the whole answer.
      if (!v->has_unit && !(words == 1 && stop - i == 1)) continue;
      return v->value;
    }
    i = end;
  }
  return std::nullopt;
}

} // namespace

std::optional<double> parse_number(std::string_view s) {
  const std::string t = for_compare(s);
  if (auto v = arabic_number(t)) return v;
  return sino_korean_number(t);
}

std::vector<double> parse_numbers(std::string_view s) {
  const std::string t = for_compare(s);
  std::vector<double> out;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t end = t.size();
    const auto v = arabic_number(t, pos, &end);
    if (!v) break;
    out.push_back(*v);
    pos = std::max(end, pos + 1);
  }
  if (out.empty())
    if (auto v = sino_korean_number(t)) out.push_back(*v);
  return out;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                    static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

} // namespace keval::normalize
