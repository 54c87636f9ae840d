#include "secrets.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "text.h"

namespace keval::secrets {
namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

struct Registry {
  std::mutex mutex;
  std::vector<std::string> patterns;  // lower-cased, longest first
};

Registry& registry() {
  static Registry r;
  return r;
}

void add_pattern(std::vector<std::string>& patterns, std::string pattern) {
  pattern = ascii_lower(pattern);
  if (pattern.size() < k_min_length) return;
  if (std::find(patterns.begin(), patterns.end(), pattern) != patterns.end()) return;
  patterns.push_back(std::move(pattern));
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

} // namespace

void remember(std::string_view value) {
  std::string trimmed(text::trim(value));
  if (trimmed.size() < k_min_length) return;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  add_pattern(r.patterns, trimmed);
  // As a JSON string would carry it ('"', '\' and control characters escaped; non-ASCII as
  // \uXXXX too, as Python's json writes it), and with '/' escaped, as some servers write it.
  for (bool ascii : {false, true}) {
    std::string escaped = nlohmann::json(trimmed).dump(-1, ' ', ascii, nlohmann::json::error_handler_t::replace);
    escaped = escaped.substr(1, escaped.size() - 2);
    add_pattern(r.patterns, escaped);
    add_pattern(r.patterns, replace_all(escaped, "/", "\\/"));
  }
  std::sort(r.patterns.begin(), r.patterns.end(), [](const std::string& a, const std::string& b) {
    return a.size() > b.size();
  });
}

void remember_header(std::string_view header) {
  auto colon = header.find(':');
  const std::string value = text::trim(colon == std::string_view::npos ? header : header.substr(colon + 1));
  remember(value);
  // "Bearer sk-…", "Basic …": the credential alone may come back without its scheme.
  auto space = value.find_last_of(" \t");
  if (space != std::string::npos) remember(std::string_view(value).substr(space + 1));
}

void remember_environment() {
  for (const char* name : {"KEVAL_API_KEY", "KEVAL_JUDGE_API_KEY", "OPENAI_API_KEY"})
    if (const char* v = std::getenv(name); v && *v) remember(v);
}

void forget_all() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.patterns.clear();
}

std::string redact(std::string_view text) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.patterns.empty() || text.empty()) return std::string(text);
  const std::string folded = ascii_lower(text);
  // Mark every byte inside a match first, so overlapping matches of two values both go.
  std::vector<bool> hidden;
  for (const auto& p : r.patterns)
    for (size_t at = folded.find(p); at != std::string::npos; at = folded.find(p, at + 1)) {
      if (hidden.empty()) hidden.assign(text.size(), false);
      std::fill(hidden.begin() + static_cast<std::ptrdiff_t>(at), hidden.begin() + static_cast<std::ptrdiff_t>(at + p.size()), true);
    }
  if (hidden.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (!hidden[i]) {
      out += text[i++];
      continue;
    }
    out += k_mask;
    while (i < text.size() && hidden[i]) ++i;
  }
  return out;
}

void redact(Response& response) {
  response.text = redact(response.text);
  response.message = redact(response.message);
}

} // namespace keval::secrets
