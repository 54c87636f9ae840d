#include "backend_flags.h"

#include <fmt/format.h>

#include "text.h"

namespace keval::cli {
namespace {

// The model's help, or the judge's.
const char* pick(BackendRole role, const char* model, const char* judge) {
  return role == BackendRole::model ? model : judge;
}

} // namespace

std::string flag_prefix(BackendRole role) {
  return role == BackendRole::model ? "--" : "--judge-";
}

std::string backend_kind_list(BackendRole role, const std::string& separator) {
  std::vector<std::string> kinds;
  for (const auto& k : registered_backends())
    if (role == BackendRole::model || k.can_judge) kinds.push_back(k.kind);
  return text::join(kinds, separator);
}

std::string backend_kinds_help(BackendRole role) {
  std::string out = fmt::format("Backends ({}backend):\n", flag_prefix(role));
  size_t width = 0;
  for (const auto& k : registered_backends()) width = std::max(width, k.kind.size());
  for (const auto& k : registered_backends())
    if (role == BackendRole::model || k.can_judge) out += fmt::format("  {:<{}}  {}\n", k.kind, width, k.description);
  return out;
}

std::vector<CLI::Option*> add_backend_flags(CLI::App& app, BackendConfig& config, BackendRole role) {
  const std::string p = flag_prefix(role);
  const std::string kinds = backend_kind_list(role, " | ");
  return {
      app.add_option(p + "backend", config.kind,
                     role == BackendRole::model ? kinds : "Judge of dialogue tasks (LogicKor, KoMT-Bench): " + kinds),
      app.add_option(p + "model", config.model,
                     pick(role, "Model name (recorded; sent to HTTP backends)", "Judge model name (sent to HTTP backends; recorded)")),
      app.add_option(p + "model-id", config.model_id,
                     pick(role, "Pin the model's identity (keys cached answers) when the server reports none that names the model",
                          "Pin the judge's identity (keys cached verdicts) when its server reports none that names the model")),
      app.add_option(p + "base-url", config.base_urls, pick(role, "Server URL (repeatable)", "Judge server URL (repeatable)")),
      app.add_option(p + "responses", config.responses_file,
                     pick(role, "replay: recorded responses (JSON lines)", "replay judge: recorded verdicts (JSON lines, 'judge' arrays)")),
      app.add_option(p + "cmd", config.command,
                     pick(role, "exec: the program to start, \"PROGRAM ARGS\" (JSON lines on stdin/stdout)",
                          "exec judge: the program to start")),
      app.add_option(p + "header", config.headers,
                     pick(role, "HTTP header NAME:VALUE (repeatable; values are never stored)",
                          "Judge HTTP header NAME:VALUE (repeatable; never stored)")),
  };
}

void add_model_overrides(CLI::App& app, BackendConfig& config) {
  app.add_option("--logprobs-api", config.logprobs_api,
                 "openai-completions: prompt log-probs as auto (probed), openai (echo), sglang or tgi (native /generate)")
      ->capture_default_str();
  app.add_option("--seed", config.seed, "Seed of the random backend")->capture_default_str();
  app.add_option("--max-tokens", config.max_tokens, "Replaces every task's max_tokens (default: each task's own)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--temperature", config.temperature, "Replaces every task's temperature (default: each task's own)")
      ->check(CLI::Range(0.0, 10.0));
}

void add_execution_flags(CLI::App& app, BackendConfig& config, BackendRole role) {
  app.add_option("--concurrency", config.concurrency, pick(role, "Requests in flight", "Judge requests in flight"))
      ->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--timeout", config.timeout,
                 pick(role, "Seconds per HTTP request (whole request); exec: longest wait for a complete reply line",
                      "Seconds per judge request"))
      ->capture_default_str();
  app.add_option("--max-retries", config.max_retries,
                 pick(role, "Retries of a failed request (connection errors, 408, 429, 5xx)", "Retries of a failed judge request"))
      ->capture_default_str()->check(CLI::Range(0, 100));
  app.add_option("--rps", config.rps,
                 pick(role, "Requests started per second at most (0: no limit)", "Judge requests started per second at most (0: no limit)"))
      ->capture_default_str();
  app.add_option("--max-response-bytes", config.max_response_bytes,
                 pick(role, "A reply (HTTP body, exec line) larger than this fails its request (kind too_large)",
                      "A judge reply larger than this fails its request (kind too_large)"))
      ->capture_default_str()->check(CLI::PositiveNumber);
}

std::vector<std::string> given(const std::vector<CLI::Option*>& options) {
  std::vector<std::string> names;
  for (const CLI::Option* o : options)
    if (o->count() > 0) names.push_back("--" + o->get_lnames().front());
  return names;
}

} // namespace keval::cli
