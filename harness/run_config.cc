#include "run_config.h"

#include <fmt/format.h>

#include "extract_choice.h"
#include "keval_version.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/text.h"

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

nlohmann::json RunConfig::to_json() const {
  nlohmann::json out;
  out["keval_version"] = k_version;
  out["extractor_version"] = k_extractor_version;
  out["requested"] = tasks;
  out["limit"] = limit ? nlohmann::json(*limit) : nlohmann::json(nullptr);
  out["num_fewshot"] = num_fewshot ? nlohmann::json(*num_fewshot) : nlohmann::json(nullptr);
  out["fewshot_seed"] = fewshot_seed;
  out["mc_mode"] = mc_mode;
  out["keep_think"] = keep_think;
  out["backend"] = backend.to_json();
  if (judge) out["judge"] = judge->to_json();
  out["execution"] = backend.execution_json();
  out["execution"]["max_failures"] = max_failures;
  out["execution"]["cache"] = use_cache;
  if (prices.input) out["execution"]["price_in"] = *prices.input;
  if (prices.output) out["execution"]["price_out"] = *prices.output;
  if (shard) out["shard"] = {{"index", shard->index}, {"count", shard->count}};
  if (!name.empty()) out["name"] = name;
  return out;
}

RunConfig RunConfig::from_json(const nlohmann::json& config, const Given& given) {
  RunConfig out;
  if (config.contains("tasks"))
    for (const auto& t : config.at("tasks")) out.tasks.push_back(t.at("name"));
  else
    out.tasks = config.at("requested").get<std::vector<std::string>>();
  if (!config.at("limit").is_null()) out.limit = config.at("limit").get<size_t>();
  if (!config.at("num_fewshot").is_null()) out.num_fewshot = config.at("num_fewshot").get<int>();
  if (config.contains("fewshot_seed")) {
    out.fewshot_seed = config.at("fewshot_seed").get<std::int64_t>();
  } else if (out.num_fewshot.value_or(0) > 0) {
    // Made before few-shot examples were drawn per sample: its prompts cannot be rebuilt.
    throw InputError(fmt::format("run '{}' took its few-shot examples in file order (an earlier keval); they cannot be "
                                 "rebuilt to resume it: start a new run", given.run));
  }
  out.mc_mode = config.value("mc_mode", out.mc_mode);
  out.keep_think = config.value("keep_think", out.keep_think);
  const nlohmann::json execution = config.value("execution", nlohmann::json::object());
  out.backend = BackendConfig::from_json(config.at("backend"), execution, given.headers, false);
  if (config.contains("judge")) {
    out.judge = BackendConfig::from_json(config.at("judge"), nlohmann::json::object(), given.judge_headers, true);
    out.judge->share_execution(out.backend);
  }
  out.max_failures = execution.value("max_failures", out.max_failures);
  out.use_cache = execution.value("cache", out.use_cache);
  out.prices = recorded_prices(config);
  out.name = config.value("name", "");
  if (config.contains("shard"))
    out.shard = ShardSpec{config.at("shard").at("index").get<size_t>(), config.at("shard").at("count").get<size_t>()};
  return out;
}

std::string config_hash(const nlohmann::json& config) {
  nlohmann::json copy = config;
  for (const char* key : k_unhashed_config_keys) copy.erase(key);
  return sha256_hex(copy.dump());
}

} // namespace keval
