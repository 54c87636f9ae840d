#include "backends/exec_protocol.h"

#include <fmt/format.h>

#include "json_line.h"

namespace keval {

std::optional<ExecReply> parse_exec_reply(std::string_view line, const std::string& program) {
  std::string error;
  std::optional<nlohmann::json> parsed = parse_json_line(line, &error);
  if (!parsed) return std::nullopt;
  nlohmann::json& j = *parsed;
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return std::nullopt;
  ExecReply reply;
  reply.id = j["id"].get<std::string>();
  auto bad = [&](const std::string& why) {
    reply.response = Response::failed(FailureKind::malformed, fmt::format("exec program '{}': {}", program, why));
    return reply;
  };
  if (j.contains("error")) {
    reply.response = Response::failed(FailureKind::backend,
                                      fmt::format("exec program '{}': {}", program,
                                                  j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump()));
    return reply;
  }
  if (j.contains("text")) {
    if (!j["text"].is_string()) return bad("'text' is not a string");
    reply.response.text = j["text"].get<std::string>();
  } else if (j.contains("logprobs")) {
    if (!j["logprobs"].is_array()) return bad("'logprobs' is not a list");
    for (const auto& v : j["logprobs"]) {
      if (!is_logprob(v)) return bad(fmt::format("'logprobs' holds {}, not a log-probability (a finite number <= 0)", v.dump()));
      reply.response.logprobs.push_back(v.get<double>());
    }
  } else {
    return bad("a reply needs 'text', 'logprobs' or 'error'");
  }
  return reply;
}

} // namespace keval
