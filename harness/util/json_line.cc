#include "json_line.h"

#include <cmath>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace keval {
namespace {

struct Refused {
  std::string why;
};

} // namespace

std::optional<nlohmann::json> parse_json_line(std::string_view line, std::string* error) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string>> open_objects;  // keys seen so far, one set per enclosing object
  auto check = [&](int, Event event, nlohmann::json& parsed) {
    switch (event) {
    case Event::object_start: open_objects.emplace_back(); break;
    case Event::object_end:
      if (!open_objects.empty()) open_objects.pop_back();
      break;
    case Event::key:
      if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
        throw Refused{fmt::format("duplicate key '{}'", parsed.get<std::string>())};
      break;
    case Event::value:
      if (parsed.is_number_float() && !std::isfinite(parsed.get<double>())) throw Refused{"a number out of range"};
      break;
    default: break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(line.begin(), line.end(), check);
  } catch (const Refused& r) {
    *error = r.why;
  } catch (const nlohmann::json::out_of_range& e) {
    *error = fmt::format("a number out of range ({})", e.what());
  } catch (const nlohmann::json::exception& e) {
    *error = e.what();
  }
  return std::nullopt;
}

bool is_logprob(const nlohmann::json& value) {
  if (!value.is_number()) return false;
  const double v = value.get<double>();
  return std::isfinite(v) && v <= 0;
}

} // namespace keval
