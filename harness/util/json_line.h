#pragma once
// One line of JSON from outside (a replay file, an exec program's reply), read strictly:
// nlohmann::json silently keeps the last of two equal keys and raises an out_of_range (not a
// parse error) for a number beyond a double's range. Here both are errors like any syntax error.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace keval {

// The value, or nullopt with `error` set to why not (a syntax error with its byte position, a
// duplicate key, a number out of range). Never throws for any input.
std::optional<nlohmann::json> parse_json_line(std::string_view line, std::string* error);

// A log-probability as read from outside: a finite number not above 0.
bool is_logprob(const nlohmann::json& value);

} // namespace keval
