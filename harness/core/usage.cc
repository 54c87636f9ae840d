#include "usage.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "text.h"

namespace keval {
namespace {

void add_prompt(PromptText& out, const nlohmann::json& text) {
  if (!text.is_string()) return;
  const auto& s = text.get_ref<const std::string&>();
  for (char32_t c : text::decode(s)) {
    ++out.characters;
    out.has_hangul = out.has_hangul || text::is_hangul(c);
  }
}

nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
nlohmann::json optional_json(const std::optional<long long>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

std::string seconds(const std::optional<double>& v) { return v ? fmt::format("{:.3f} s", *v) : "-"; }

// Dollars to the cent from $1 up, else to three significant digits (a small run costs fractions of a cent).
std::string dollars(double usd) { return usd >= 1 ? fmt::format("${:.2f}", usd) : fmt::format("${:.3g}", usd); }

} // namespace

PromptText prompt_text_of(const nlohmann::json& request) {
  PromptText out;
  if (!request.is_object()) return out;
  if (auto m = request.find("messages"); m != request.end() && m->is_array())
    for (const auto& message : *m)
      if (message.is_object() && message.contains("content")) add_prompt(out, message.at("content"));
  if (auto p = request.find("prompt"); p != request.end()) {
    if (p->is_array())
      for (const auto& x : *p) add_prompt(out, x);
    else add_prompt(out, *p);
  }
  // keval's own log-likelihood request: the server reads context + continuation once per continuation.
  if (auto c = request.find("continuations"); c != request.end() && c->is_array())
    for (const auto& continuation : *c) {
      add_prompt(out, request.value("context", nlohmann::json()));
      add_prompt(out, continuation);
    }
  return out;
}

std::optional<double> percentile(std::vector<double>& values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (rank - static_cast<double>(below)) * (values[above] - values[below]);
}

double covered_seconds(std::vector<std::pair<double, double>> intervals) {
  std::sort(intervals.begin(), intervals.end());
  double total = 0, start = 0, end = 0;
  bool open = false;
  for (const auto& [s, e] : intervals) {
    if (e < s) continue;
    if (open && s <= end) {
      end = std::max(end, e);
      continue;
    }
    if (open) total += end - start;
    start = s;
    end = e;
    open = true;
  }
  if (open) total += end - start;
  return total;
}

RunUsage summarize_usage(const std::vector<UsageRow>& rows) {
  RunUsage u;
  std::vector<double> latencies;
  std::vector<std::pair<double, double>> in_flight;
  for (const UsageRow& r : rows) {
    ++u.responses;
    if (!r.ok) ++u.failed;
    if (r.prompt_tokens && r.prompt_has_hangul && r.prompt_characters > 0) {
      ++u.korean_prompts;
      u.korean_prompt_tokens += *r.prompt_tokens;
      u.korean_prompt_characters += r.prompt_characters;
    }
    if (r.from_cache) {
      ++u.cached;
      ++u.cached_from[r.cached_from_run];
      continue;
    }
    ++u.sent;
    if (r.prompt_tokens || r.completion_tokens) {
      ++u.with_usage;
      if (r.prompt_tokens) u.prompt_tokens = u.prompt_tokens.value_or(0) + *r.prompt_tokens;
      if (r.completion_tokens) u.completion_tokens = u.completion_tokens.value_or(0) + *r.completion_tokens;
    }
    if (r.latency_seconds && *r.latency_seconds > 0) {
      if (r.ok) latencies.push_back(*r.latency_seconds);
      if (r.finished_at_seconds)
        in_flight.emplace_back(*r.finished_at_seconds - *r.latency_seconds, *r.finished_at_seconds);
    }
  }
  u.latency_n = static_cast<long long>(latencies.size());
  u.latency_p50 = percentile(latencies, 50);
  u.latency_p90 = percentile(latencies, 90);
  u.latency_p99 = percentile(latencies, 99);
  if (!in_flight.empty()) {
    u.busy_seconds = covered_seconds(std::move(in_flight));
    if (*u.busy_seconds > 0) u.requests_per_second = static_cast<double>(u.sent) / *u.busy_seconds;
  }
  if (u.korean_prompt_characters > 0)
    u.tokens_per_1000_korean_characters =
        1000.0 * static_cast<double>(u.korean_prompt_tokens) / static_cast<double>(u.korean_prompt_characters);
  return u;
}

std::optional<double> cost_usd(const Prices& prices, std::optional<long long> prompt_tokens,
                               std::optional<long long> completion_tokens) {
  // A price not given counts as free; a count not reported makes the figure unknown.
  const bool in = prices.input && prompt_tokens, out = prices.output && completion_tokens;
  if ((prices.input && !prompt_tokens) || (prices.output && !completion_tokens) || !(in || out)) return std::nullopt;
  double usd = 0;
  if (in) usd += static_cast<double>(*prompt_tokens) * *prices.input / 1e6;
  if (out) usd += static_cast<double>(*completion_tokens) * *prices.output / 1e6;
  return usd;
}

Prices recorded_prices(const nlohmann::json& config) {
  Prices p;
  if (!config.is_object() || !config.contains("execution") || !config.at("execution").is_object()) return p;
  const auto& e = config.at("execution");
  if (e.contains("price_in") && e.at("price_in").is_number()) p.input = e.at("price_in").get<double>();
  if (e.contains("price_out") && e.at("price_out").is_number()) p.output = e.at("price_out").get<double>();
  return p;
}

nlohmann::json usage_json(const RunUsage& u, const Prices& prices) {
  nlohmann::json cached_from = nlohmann::json::object();
  for (const auto& [run, n] : u.cached_from) cached_from[run.empty() ? "unknown" : run] = n;
  nlohmann::json out = {
      {"responses", u.responses},
      {"sent", u.sent},
      {"failed", u.failed},
      {"cached", u.cached},
      {"cached_from", std::move(cached_from)},
      {"with_usage", u.with_usage},
      {"prompt_tokens", optional_json(u.prompt_tokens)},
      {"completion_tokens", optional_json(u.completion_tokens)},
      {"latency_n", u.latency_n},
      {"latency_p50", optional_json(u.latency_p50)},
      {"latency_p90", optional_json(u.latency_p90)},
      {"latency_p99", optional_json(u.latency_p99)},
      {"busy_seconds", optional_json(u.busy_seconds)},
      {"requests_per_second", optional_json(u.requests_per_second)},
      {"korean_prompts", u.korean_prompts},
      {"tokens_per_1000_korean_characters", optional_json(u.tokens_per_1000_korean_characters)},
  };
  if (u.judge_sent || u.judge_cached)
    out["judge"] = {{"sent", u.judge_sent},
                    {"cached", u.judge_cached},
                    {"prompt_tokens", optional_json(u.judge_prompt_tokens)},
                    {"completion_tokens", optional_json(u.judge_completion_tokens)}};
  if (prices.any()) {
    out["price_in"] = optional_json(prices.input);
    out["price_out"] = optional_json(prices.output);
    out["cost_usd"] = optional_json(cost_usd(prices, u.prompt_tokens, u.completion_tokens));
    // Responses without usage add nothing to the cost: it is then a lower bound.
    out["cost_complete"] = u.with_usage == u.sent;
  }
  return out;
}

std::string format_usage(const RunUsage& u, const Prices& prices) {
  std::string out = fmt::format("usage: {} responses ({} sent, {} from the cache, {} failed)", u.responses, u.sent, u.cached,
                                u.failed);
  if (u.prompt_tokens || u.completion_tokens)
    out += fmt::format("; tokens in {} out {}", u.prompt_tokens ? std::to_string(*u.prompt_tokens) : "-",
                       u.completion_tokens ? std::to_string(*u.completion_tokens) : "-");
  else if (u.sent) out += "; the server reported no token usage";
  if (u.with_usage && u.with_usage < u.sent) out += fmt::format(" (reported for {} of {})", u.with_usage, u.sent);
  out += "\n";
  if (u.latency_n)
    out += fmt::format("latency: p50 {} p90 {} p99 {} over {} answers", seconds(u.latency_p50), seconds(u.latency_p90),
                       seconds(u.latency_p99), u.latency_n) +
           (u.requests_per_second ? fmt::format("; {:.2f} requests/s over {:.1f} s in flight", *u.requests_per_second,
                                                *u.busy_seconds)
                                  : "") +
           "\n";
  if (u.tokens_per_1000_korean_characters)
    out += fmt::format("Korean prompts: {:.1f} tokens per 1,000 characters ({} prompts)\n",
                       *u.tokens_per_1000_korean_characters, u.korean_prompts);
  if (prices.any()) {
    const auto cost = cost_usd(prices, u.prompt_tokens, u.completion_tokens);
    out += fmt::format("cost: {} at ${}/M in, ${}/M out{}\n", cost ? dollars(*cost) : "unknown (no token usage reported)",
                       prices.input ? fmt::format("{:g}", *prices.input) : "0",
                       prices.output ? fmt::format("{:g}", *prices.output) : "0",
                       cost && u.with_usage < u.sent ? " (at least: some responses reported no usage)" : "");
  }
  if (u.judge_sent || u.judge_cached)
    out += fmt::format("judge: {} requests sent, {} from the cache{}\n", u.judge_sent, u.judge_cached,
                       u.judge_prompt_tokens || u.judge_completion_tokens
                           ? fmt::format("; tokens in {} out {}", u.judge_prompt_tokens ? std::to_string(*u.judge_prompt_tokens) : "-",
                                         u.judge_completion_tokens ? std::to_string(*u.judge_completion_tokens) : "-")
                           : "");
  if (u.cached) {
    std::vector<std::string> sources;
    for (const auto& [run, n] : u.cached_from) sources.push_back(fmt::format("{} from {}", n, run.empty() ? "an unrecorded run" : "run " + run));
    out += fmt::format("cached answers: {}\n", text::join(sources, ", "));
  }
  return out;
}

std::optional<nlohmann::json> estimate_cost(const nlohmann::json& plan_tasks, const Prices& prices) {
  if (!prices.any()) return std::nullopt;
  nlohmann::json out = {{"price_in", prices.input ? nlohmann::json(*prices.input) : nlohmann::json(nullptr)},
                        {"price_out", prices.output ? nlohmann::json(*prices.output) : nlohmann::json(nullptr)}};
  long long tokens = 0;
  std::vector<std::string> uncounted;
  for (const auto& t : plan_tasks) {
    if (t.contains("tokens") && t.at("tokens").is_number_integer()) tokens += t.at("tokens").get<long long>();
    else uncounted.push_back(t.value("task", "?"));
  }
  if (!uncounted.empty() || plan_tasks.empty()) {
    out["prompt_tokens"] = nullptr;
    out["input_usd"] = nullptr;
    out["reason"] = fmt::format("the server counted no tokens for {}", uncounted.empty() ? "any task" : text::join(uncounted, ", "));
    return out;
  }
  out["prompt_tokens"] = tokens;
  out["input_usd"] = cost_usd(Prices{prices.input.value_or(0), std::nullopt}, tokens, std::nullopt).value_or(0);
  out["output"] = "not estimated: completion tokens are known only once the model has answered";
  return out;
}

std::string format_estimated_cost(const nlohmann::json& estimate) {
  if (estimate.value("input_usd", nlohmann::json()).is_number())
    return fmt::format("estimated cost: {} for {} prompt tokens at ${:g}/M (completion tokens are known only once "
                       "the model has answered)\n",
                       dollars(estimate.at("input_usd").get<double>()), estimate.at("prompt_tokens").get<long long>(),
                       estimate.value("price_in", nlohmann::json(0)).is_number() ? estimate.at("price_in").get<double>() : 0.0);
  return fmt::format("estimated cost: unknown ({})\n", estimate.value("reason", "no token counts"));
}

} // namespace keval
