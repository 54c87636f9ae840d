#include "backend_config.h"

#include <fmt/format.h>

#include "error.h"
#include "sha256.h"
#include "text.h"

namespace keval {

nlohmann::json BackendConfig::to_json() const {
  nlohmann::json out = {{"kind", kind}, {"model", model}};
  if (kind == "random") out["seed"] = seed;
  if (!responses_file.empty()) {
    out["responses_file"] = responses_file;
    out["responses_sha256"] = sha256_file_hex(responses_file);
  }
  if (!base_urls.empty()) out["base_urls"] = base_urls;
  if (!command.empty()) out["command"] = command;
  if (max_tokens) out["max_tokens"] = *max_tokens;
  if (temperature) out["temperature"] = *temperature;
  if (!headers.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& h : headers) names.push_back(text::trim(h.substr(0, h.find(':'))));
    out["header_names"] = names;
  }
  if (logprobs_api != "auto") out["logprobs_api"] = logprobs_api;
  if (!model_id.empty()) out["model_id"] = model_id;
  return out;
}

nlohmann::json BackendConfig::execution_json() const {
  return {{"concurrency", concurrency},
          {"timeout", timeout},
          {"max_retries", max_retries},
          {"rps", rps},
          {"max_response_bytes", max_response_bytes}};
}

BackendConfig BackendConfig::from_json(const nlohmann::json& entry, const nlohmann::json& stored_execution,
                                       const std::vector<std::string>& headers, bool judge) {
  BackendConfig out;
  const BackendConfig defaults;
  const nlohmann::json execution = stored_execution.is_object() ? stored_execution : nlohmann::json::object();
  out.kind = entry.at("kind");
  out.model = entry.value("model", "");
  out.model_id = entry.value("model_id", "");
  out.seed = entry.value("seed", defaults.seed);
  out.responses_file = entry.value("responses_file", "");
  out.command = entry.value("command", "");
  out.logprobs_api = entry.value("logprobs_api", defaults.logprobs_api);
  if (entry.contains("base_urls")) out.base_urls = entry.at("base_urls").get<std::vector<std::string>>();
  if (entry.contains("max_tokens")) out.max_tokens = entry.at("max_tokens").get<int>();
  if (entry.contains("temperature")) out.temperature = entry.at("temperature").get<double>();
  out.concurrency = execution.value("concurrency", defaults.concurrency);
  out.timeout = execution.value("timeout", defaults.timeout);
  out.max_retries = execution.value("max_retries", defaults.max_retries);
  out.max_response_bytes = execution.value("max_response_bytes", defaults.max_response_bytes);
  out.rps = execution.value("rps", defaults.rps);
  out.judge = judge;
  out.headers = headers;
  if (entry.contains("header_names") && headers.empty() && !entry.at("header_names").empty())
    throw InputError(fmt::format("the run was sent with {} {}; give the headers again with --resume (their values "
                                 "are not stored)", judge ? "--judge-header" : "--header", entry.at("header_names").dump()));
  if (entry.contains("responses_sha256") && sha256_file_hex(out.responses_file) != entry.at("responses_sha256"))
    throw InputError(fmt::format("{} changed since the run started; start a new run instead", out.responses_file));
  return out;
}

void BackendConfig::share_execution(const BackendConfig& model) {
  concurrency = model.concurrency;
  timeout = model.timeout;
  max_retries = model.max_retries;
  max_response_bytes = model.max_response_bytes;
}

} // namespace keval
