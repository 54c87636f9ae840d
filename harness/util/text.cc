#include "text.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <tuple>

#include <utf8proc.h>

namespace keval::text {
namespace {

constexpr char32_t k_replacement = 0xFFFD;

// Decodes one code point at `pos` and advances it. Invalid input yields U+FFFD and consumes the
// maximal ill-formed subpart (as the Unicode standard and WHATWG recommend), so one bad byte
// never swallows the valid text after it.
char32_t next_code_point(std::string_view s, size_t& pos, bool& invalid) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  size_t need = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;       // no overlong forms
    if (b0 == 0xED) hi = 0x9F;       // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;       // nothing above U+10FFFF
  } else {
    ++pos;
    invalid = true;
    return k_replacement;
  }
  size_t i = pos + 1;
  for (size_t k = 0; k < need; ++k, ++i) {
    if (i >= s.size()) {
      pos = i;
      invalid = true;
      return k_replacement;
    }
    const auto b = static_cast<unsigned char>(s[i]);
    const unsigned char l = k == 0 ? lo : 0x80;
    const unsigned char h = k == 0 ? hi : 0xBF;
    if (b < l || b > h) {
      pos = i;  // the offending byte starts the next sequence
      invalid = true;
      return k_replacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  pos = i;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = k_replacement;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Code points that are NFC-stable and never combine with a neighbour: a string made only of
// these is already NFC, which spares utf8proc (and an allocation) for most Korean text.
bool nfc_inert(char32_t cp) {
  return cp < 0x300 ||                      // ASCII, Latin-1, Latin Extended-A/B
         (cp >= 0xAC00 && cp <= 0xD7A3) ||  // Hangul syllables (a trailing jamo would compose, but
                                            // conjoining jamo are not in this set)
         (cp >= 0x2010 && cp <= 0x205E) ||  // general punctuation
         (cp >= 0x2460 && cp <= 0x24FF) ||  // enclosed alphanumerics (①…)
         (cp >= 0x3000 && cp <= 0x3029) ||  // CJK punctuation (before the combining tone marks)
         (cp >= 0x3131 && cp <= 0x318E) ||  // compatibility jamo
         (cp >= 0x4E00 && cp <= 0x9FFF) ||  // CJK unified ideographs
         (cp >= 0xFF01 && cp <= 0xFFEF);    // half- and full-width forms
}

} // namespace

bool make_valid_utf8(std::string& s) {
  size_t pos = 0;
  bool invalid = false;
  while (pos < s.size() && !invalid) next_code_point(s, pos, invalid);
  if (!invalid) return false;
  std::string out;
  out.reserve(s.size() + 8);
  pos = 0;
  while (pos < s.size()) {
    bool bad = false;
    append_utf8(out, next_code_point(s, pos, bad));
  }
  s = std::move(out);
  return true;
}

std::optional<size_t> first_invalid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    bool invalid = false;
    next_code_point(s, pos, invalid);
    if (invalid) return start;
  }
  return std::nullopt;
}

std::string nfc(std::string_view s, bool* had_invalid) {
  std::string valid(s);
  const bool invalid = make_valid_utf8(valid);
  if (had_invalid) *had_invalid = invalid;

  bool inert = true;
  for (size_t pos = 0; pos < valid.size() && inert;) {
    bool bad = false;
    inert = nfc_inert(next_code_point(valid, pos, bad));
  }
  if (inert) return valid;

  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                   static_cast<utf8proc_ssize_t>(valid.size()), &out,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0 || out == nullptr) {
    std::free(out);
    return valid;  // cannot happen for valid UTF-8; never fail a comparison over it
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

std::vector<char32_t> decode(std::string_view s) {
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  size_t pos = 0;
  bool invalid = false;
  while (pos < s.size()) cps.push_back(next_code_point(s, pos, invalid));
  return cps;
}

std::string encode(char32_t cp) {
  std::string out;
  append_utf8(out, cp);
  return out;
}

std::string encode(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size() * 3);
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

size_t trailing_space_bytes(std::string_view s) {
  // Code points are read forwards (UTF-8 is not decoded backwards here); the last run of
  // spaces that reaches the end is what rstrip() removes.
  size_t pos = 0, run_start = 0;
  bool invalid = false, in_run = false;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t c = next_code_point(s, pos, invalid);
    if (!invalid && is_python_space(c)) {
      if (!in_run) run_start = start;
      in_run = true;
    } else {
      in_run = false;
    }
    invalid = false;
  }
  return in_run ? s.size() - run_start : 0;
}

size_t char_count(std::string_view s) {
  size_t n = 0;
  size_t pos = 0;
  bool invalid = false;
  while (pos < s.size()) {
    next_code_point(s, pos, invalid);
    ++n;
  }
  return n;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  bool invalid = false;
  while (pos < s.size()) {
    const char32_t cp = next_code_point(s, pos, invalid);
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
  }
  return out;
}

bool is_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool is_hangul(char32_t cp) {
  return (cp >= 0xAC00 && cp <= 0xD7A3) ||  // syllables
         (cp >= 0x1100 && cp <= 0x11FF) ||  // jamo
         (cp >= 0x3130 && cp <= 0x318F) ||  // compatibility jamo
         (cp >= 0xA960 && cp <= 0xA97F) ||  // jamo extended-A
         (cp >= 0xD7B0 && cp <= 0xD7FF) ||  // jamo extended-B
         (cp >= 0xFFA0 && cp <= 0xFFDC);    // half-width jamo
}

std::string trim(std::string_view s) {
  size_t begin = 0;
  size_t end = 0;  // one past the last non-space code point
  bool seen = false;
  size_t pos = 0;
  bool invalid = false;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = next_code_point(s, pos, invalid);
    if (!is_space(cp)) {
      if (!seen) begin = start;
      seen = true;
      end = pos;
    }
  }
  if (!seen) return {};
  return std::string(s.substr(begin, end - begin));
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  size_t word_start = std::string_view::npos;
  bool invalid = false;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = next_code_point(s, pos, invalid);
    if (is_space(cp)) {
      if (word_start != std::string_view::npos) out.emplace_back(s.substr(word_start, start - word_start));
      word_start = std::string_view::npos;
    } else if (word_start == std::string_view::npos) {
      word_start = start;
    }
  }
  if (word_start != std::string_view::npos) out.emplace_back(s.substr(word_start));
  return out;
}

std::string fold_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  bool pending_space = false;
  bool invalid = false;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = next_code_point(s, pos, invalid);
    if (is_space(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out.append(s.substr(start, pos - start));
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, at - start));
    start = at + 1;
  }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  std::string out;
  out.reserve(s.size());
  size_t start = 0;
  while (true) {
    const size_t at = s.find(from, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out.append(to);
    start = at + from.size();
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string_view strip_bom(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  return s;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  const auto x = decode(a);
  const auto y = decode(b);
  std::vector<size_t> prev(y.size() + 1), cur(y.size() + 1);
  std::iota(prev.begin(), prev.end(), size_t{0});
  for (size_t i = 1; i <= x.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= y.size(); ++j) {
      const size_t subst = prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[y.size()];
}

std::vector<std::string> closest(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string wanted = lower(name);
  if (wanted.empty()) return {};
  const size_t wanted_len = char_count(wanted);
  // A typo is a few edits; a fragment ("kmmlu" for "kmmlu_accounting") is a prefix or substring.
  const size_t max_distance = std::max<size_t>(2, wanted_len / 3);
  struct Ranked {
    int tier;  // 0: within edit distance, 1: prefix, 2: substring
    size_t distance;
    std::string name;
  };
  std::vector<Ranked> ranked;
  for (const auto& c : candidates) {
    if (c.empty()) continue;
    if (std::any_of(ranked.begin(), ranked.end(), [&](const Ranked& r) { return r.name == c; })) continue;
    const std::string cand = lower(c);
    const size_t d = edit_distance(wanted, cand);
    int tier = -1;
    if (d <= max_distance && d < std::max(wanted_len, char_count(cand))) tier = 0;
    else if (wanted_len >= 2 && (cand.starts_with(wanted) || wanted.starts_with(cand))) tier = 1;
    else if (wanted_len >= 3 && (cand.find(wanted) != std::string::npos)) tier = 2;
    if (tier >= 0) ranked.push_back({tier, d, c});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    return std::tie(a.tier, a.distance, a.name) < std::tie(b.tier, b.distance, b.name);
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < ranked.size() && i < 3; ++i) out.push_back(ranked[i].name);
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

} // namespace keval::text
