#include "backends/openai_format.h"

#include <climits>
#include <cmath>

#include <fmt/format.h>

namespace keval::openai {
namespace {

// A member of an object, or null: operator[] on a const json must not meet a missing key.
const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json k_null;
  if (!j.is_object()) return k_null;
  auto it = j.find(key);
  return it == j.end() ? k_null : *it;
}

void put_generation(nlohmann::json& j, const Request& r, const PayloadOptions& o) {
  j["model"] = o.model;
  j["max_tokens"] = o.max_tokens ? *o.max_tokens : r.generation.max_tokens;
  j["temperature"] = o.temperature ? *o.temperature : r.generation.temperature;
  if (!r.generation.stop.empty()) j["stop"] = r.generation.stop;
}

std::optional<nlohmann::json> parse_object(std::string_view body, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(body);
    if (j.is_object()) return j;
    *error = "the reply is not a JSON object";
  } catch (const nlohmann::json::exception& e) {
    *error = fmt::format("the reply is not JSON ({})", e.what());
  }
  return std::nullopt;
}

std::string excerpt(std::string_view body) {
  constexpr size_t k_max = 200;
  std::string out(body.substr(0, k_max));
  if (body.size() > k_max) out += "…";
  return out;
}

Response malformed(const std::string& why, std::string_view body) {
  return Response::failed(FailureKind::malformed, fmt::format("{}: {}", why, excerpt(body)));
}

// Some servers answer 200 with {"error": {...}}: report their message.
std::optional<Response> error_object(const nlohmann::json& j) {
  const auto& e = field(j, "error");
  if (e.is_null()) return std::nullopt;
  const auto& m = field(e, "message");
  std::string message = m.is_string() ? m.get<std::string>() : e.dump();
  return Response::failed(FailureKind::backend, fmt::format("server error: {}", message));
}

// The reply as a JSON object; nullopt, with `failure` set, when it is none or carries an error.
std::optional<nlohmann::json> reply_object(std::string_view body, Response& failure) {
  std::string error;
  auto j = parse_object(body, &error);
  if (!j) failure = malformed(error, body);
  else if (auto e = error_object(*j)) failure = *e;
  else return j;
  return std::nullopt;
}

// choices[0] of a generation reply; nullopt, with `failure` set, when there is none.
std::optional<nlohmann::json> first_choice(const nlohmann::json& reply, std::string_view body, Response& failure) {
  const auto& choices = field(reply, "choices");
  if (choices.is_array() && !choices.empty() && choices[0].is_object()) return choices[0];
  failure = malformed("the reply has no choices[0]", body);
  return std::nullopt;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

} // namespace

void read_usage(const nlohmann::json& reply, Response& out) {
  const auto& usage = field(reply, "usage");
  auto count = [&](const char* key) -> std::optional<long long> {
    const auto& v = field(usage, key);
    if (v.is_number_unsigned() && v.get<unsigned long long>() <= static_cast<unsigned long long>(LLONG_MAX))
      return static_cast<long long>(v.get<unsigned long long>());
    return std::nullopt;  // absent, null, negative or not a whole number: not reported
  };
  out.prompt_tokens = count("prompt_tokens");
  out.completion_tokens = count("completion_tokens");
}

nlohmann::json chat_payload(const Request& r, const PayloadOptions& o) {
  nlohmann::json j;
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  j["messages"] = std::move(messages);
  put_generation(j, r, o);
  return j;
}

nlohmann::json completions_payload(const Request& r, const PayloadOptions& o) {
  nlohmann::json j;
  j["prompt"] = r.prompt;
  put_generation(j, r, o);
  return j;
}

nlohmann::json loglikelihood_payload(const Request& r, const PayloadOptions& o) {
  nlohmann::json prompts = nlohmann::json::array();
  for (const auto& c : r.continuations) prompts.push_back(r.context + c);
  return {{"model", o.model}, {"prompt", std::move(prompts)}, {"echo", true},
          {"logprobs", 1},    {"max_tokens", 0},             {"temperature", 0.0}};
}

Response parse_chat_response(std::string_view body) {
  Response failure;
  const auto reply = reply_object(body, failure);
  if (!reply) return failure;
  const auto choice = first_choice(*reply, body, failure);
  if (!choice) return failure;
  const auto& message = field(*choice, "message");
  if (!message.is_object()) return malformed("choices[0] has no message", body);
  Response out;
  const auto& content = field(message, "content");
  if (content.is_string()) out.text = content.get<std::string>();
  else if (!content.is_null()) return malformed("choices[0].message.content is not a string", body);
  read_usage(*reply, out);
  return out;
}

Response parse_completions_response(std::string_view body) {
  Response failure;
  const auto reply = reply_object(body, failure);
  if (!reply) return failure;
  const auto choice = first_choice(*reply, body, failure);
  if (!choice) return failure;
  const auto& text = field(*choice, "text");
  if (!text.is_string()) return malformed("choices[0].text is not a string", body);
  Response out;
  out.text = text.get<std::string>();
  read_usage(*reply, out);
  return out;
}

std::optional<double> continuation_logprob(const nlohmann::json& logprobs, std::string_view context,
                                           std::string_view continuation, std::string* error) {
  if (!logprobs.is_object()) {
    *error = "no logprobs object (does the server support echo with logprobs?)";
    return std::nullopt;
  }
  const auto& tokens = field(logprobs, "tokens");
  const auto& values = field(logprobs, "token_logprobs");
  const auto& offsets = field(logprobs, "text_offset");
  if (!tokens.is_array() || !values.is_array() || tokens.size() != values.size() ||
      (offsets.is_array() && offsets.size() != values.size())) {
    *error = "logprobs needs tokens and token_logprobs (and text_offset) of one length";
    return std::nullopt;
  }
  // Offsets in bytes, or in code points: whichever the echoed tokens' own lengths agree with.
  std::vector<long long> given, by_bytes, by_points;
  bool usable = offsets.is_array();
  size_t byte_pos = 0, point_pos = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_string()) {
      *error = fmt::format("token {} is not a string", i);
      return std::nullopt;
    }
    usable = usable && offsets[i].is_number_integer() && offsets[i].get<long long>() >= 0;
    given.push_back(usable ? offsets[i].get<long long>() : -1);
    by_bytes.push_back(static_cast<long long>(byte_pos));
    by_points.push_back(static_cast<long long>(point_pos));
    const auto& t = tokens[i].get_ref<const std::string&>();
    byte_pos += t.size();
    point_pos += code_points(t);
  }
  bool points = usable && given == by_points && given != by_bytes;
  const std::vector<long long>& at = usable ? given : by_bytes;
  auto begin = static_cast<long long>(points ? code_points(context) : context.size());
  auto end = begin + static_cast<long long>(points ? code_points(continuation) : continuation.size());
  double sum = 0;
  size_t counted = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (at[i] < begin || at[i] >= end) continue;
    if (!values[i].is_number()) {
      *error = fmt::format("token {} of the continuation has no log-prob", i);
      return std::nullopt;
    }
    sum += values[i].get<double>();
    ++counted;
  }
  if (counted == 0) {
    *error = "no token of the reply lies in the continuation";
    return std::nullopt;
  }
  if (!std::isfinite(sum)) {  // token log-probs near a double's limit add up to infinity
    *error = "the continuation's log-probs do not add up to a finite number";
    return std::nullopt;
  }
  return sum;
}

Response parse_loglikelihood_response(std::string_view body, const Request& r) {
  Response failure;
  const auto j = reply_object(body, failure);
  if (!j) return failure;
  std::string error;
  const auto& choices = field(*j, "choices");
  if (!choices.is_array() || choices.size() != r.continuations.size())
    return malformed(fmt::format("expected {} choices (one per continuation)", r.continuations.size()), body);
  Response out;
  out.logprobs.assign(r.continuations.size(), 0.0);
  std::vector<bool> seen(r.continuations.size(), false);
  for (size_t k = 0; k < choices.size(); ++k) {
    const auto& c = choices[k];
    // Answers are matched by their index, not their position: servers may reorder them.
    size_t index = k;
    if (c.is_object() && c.contains("index")) {
      if (!field(c, "index").is_number_unsigned()) return malformed("choices[].index is not a non-negative integer", body);
      index = field(c, "index").get<size_t>();
    }
    if (index >= seen.size() || seen[index]) return malformed(fmt::format("choices[].index {} is out of range or repeated", index), body);
    seen[index] = true;
    auto value = continuation_logprob(field(c, "logprobs"), r.context, r.continuations[index], &error);
    if (!value) return malformed(fmt::format("choice {}: {}", index, error), body);
    out.logprobs[index] = *value;
  }
  read_usage(*j, out);
  return out;
}

} // namespace keval::openai
