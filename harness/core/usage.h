#pragma once
// What a run cost: requests, tokens, latency, money, answers from the cache, and how many tokens
// the model's tokenizer spends on Korean. Every figure is computed from stored response rows
// (Store::run_usage); the definitions are in docs/report.md ("Usage, latency and cost").
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace keval {

// Prices in US dollars per million tokens (--price-in, --price-out).
struct Prices {
  std::optional<double> input;   // per million prompt tokens
  std::optional<double> output;  // per million completion tokens
  bool any() const { return input || output; }
  bool operator==(const Prices&) const = default;
};

// How much prompt text a request carries: Unicode characters (not bytes) of every prompt string
// in it, and whether any of them holds Hangul. Reads keval's stored request (messages[].content;
// context + each continuation) and an OpenAI-compatible body (messages[].content, prompt as a
// string or a list), so it holds for either form of `request_json`.
struct PromptText {
  long long characters = 0;
  bool has_hangul = false;
};
PromptText prompt_text_of(const nlohmann::json& request);

// One stored response as the usage figures need it.
struct UsageRow {
  bool ok = false;
  bool from_cache = false;
  std::string cached_from_run;               // from_cache: the run that stored the answer (empty: unknown)
  std::optional<double> latency_seconds;     // measured by the backend (never for cached answers)
  std::optional<double> finished_at_seconds; // when the row was stored (seconds since the epoch)
  std::optional<long long> prompt_tokens;    // as the server reported them in `usage`
  std::optional<long long> completion_tokens;
  long long prompt_characters = 0;           // PromptText of its request
  bool prompt_has_hangul = false;
};

struct RunUsage {
  long long responses = 0;        // stored responses (one per sample turn: the last attempt)
  long long sent = 0;             // of them answered by the backend (not from the cache)
  long long failed = 0;           // of them failed
  long long cached = 0;           // answered from the response cache
  std::map<std::string, long long> cached_from;  // run id -> cached answers it stored ("": unknown)
  long long with_usage = 0;       // sent responses whose server reported usage
  std::optional<long long> prompt_tokens;      // sent responses' tokens (empty: no usage reported)
  std::optional<long long> completion_tokens;
  long long latency_n = 0;        // sent, successful responses with a measured latency
  std::optional<double> latency_p50, latency_p90, latency_p99;  // seconds
  std::optional<double> busy_seconds;          // time with at least one request in flight
  std::optional<double> requests_per_second;   // sent / busy_seconds
  // Tokenizer efficiency on Korean: prompt tokens per 1,000 characters of the prompts that hold
  // Hangul, over every response (cached too) whose server reported usage.
  long long korean_prompts = 0;
  long long korean_prompt_tokens = 0;
  long long korean_prompt_characters = 0;
  std::optional<double> tokens_per_1000_korean_characters;
  // The judge's requests (every attempt at a verdict), apart: it is another model, not priced here.
  long long judge_sent = 0;
  long long judge_cached = 0;
  std::optional<long long> judge_prompt_tokens;
  std::optional<long long> judge_completion_tokens;
};

// The usage of a run's rows (any order).
RunUsage summarize_usage(const std::vector<UsageRow>& rows);

// The p-th percentile (0..100) of `values` by linear interpolation between closest ranks
// (numpy's default, Hyndman & Fan type 7); nullopt when empty. Sorts `values`.
std::optional<double> percentile(std::vector<double>& values, double p);

// Seconds covered by the union of [start, end] intervals (overlaps counted once).
double covered_seconds(std::vector<std::pair<double, double>> intervals);

// Cost in US dollars of the tokens at the prices; nullopt when no price applies to a known count
// (a price without its token count, or no price at all).
std::optional<double> cost_usd(const Prices& prices, std::optional<long long> prompt_tokens,
                               std::optional<long long> completion_tokens);

// The prices a run recorded (configuration "execution": price_in, price_out), or none.
Prices recorded_prices(const nlohmann::json& config);

// Usage as JSON (`keval results --json` "usage"): every field, null where unknown; with the cost
// at `prices` when any is given.
nlohmann::json usage_json(const RunUsage& usage, const Prices& prices);
// Usage as lines of text for `keval results`.
std::string format_usage(const RunUsage& usage, const Prices& prices);

// The estimated cost of a planned run (`keval run --dry-run`): input tokens counted by the server
// per task ("tokens" in each task of `plan_tasks`) at the input price. nullopt without prices; a
// JSON object saying why no figure is given when some task has no token count.
std::optional<nlohmann::json> estimate_cost(const nlohmann::json& plan_tasks, const Prices& prices);
// That estimate as one line of text.
std::string format_estimated_cost(const nlohmann::json& estimate);

} // namespace keval
