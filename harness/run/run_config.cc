#include "run_config.h"

#include <fmt/format.h>

#include "extract_choice.h"
#include "keval_version.h"
#include "error.h"
#include "sha256.h"
#include "text.h"

namespace keval {

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
