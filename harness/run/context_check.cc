#include "context_check.h"

#include <algorithm>

#include <fmt/format.h>

#include "server_probe.h"
#include "error.h"
#include "text.h"

namespace keval {
namespace {

// What the user can change, per server: its context size first (the prompts are the benchmark's).
std::string what_to_change(const nlohmann::json& endpoint, const ContextLimit& limit, long long needed, bool judge) {
  std::string server;
  switch (server_kind(endpoint)) {
  case ServerKind::llama_cpp: {
    const long long slots = endpoint["props"].value("total_slots", 1LL);
    // llama-server splits -c among its --parallel slots: each prompt gets -c / --parallel.
    server = slots > 1 ? fmt::format("start llama-server with -c {} (its {} slots share -c: each gets -c / --parallel "
                                     "tokens, {} now) or with --parallel 1 -c {}",
                                     needed * slots, slots, limit.tokens, needed)
                       : fmt::format("start llama-server with -c {} or more", needed);
    break;
  }
  case ServerKind::vllm_or_sglang:
    server = fmt::format("start the server with a larger context (vLLM --max-model-len {0}, SGLang --context-length {0}), "
                         "if the model allows it", needed);
    break;
  case ServerKind::tgi:
    server = fmt::format("start TGI with --max-input-tokens and --max-total-tokens of at least {}", needed);
    break;
  case ServerKind::other: server = "use a model with a longer context"; break;
  }
  return judge ? server + "; or judge with a model of a longer context, or leave these tasks out"
               : server + "; or lower --max-tokens or --num-fewshot, or leave these tasks out";
}

} // namespace

void ContextCheck::add(const std::string& task, const std::string& text, long long max_new_tokens, long long answer_tokens) {
  auto& kept = m_kept[task];
  Prompt p{text, text::char_count(text), max_new_tokens, answer_tokens};
  if (kept.size() == k_longest_per_task && kept.back().characters >= p.characters) return;
  auto at = std::find_if(kept.begin(), kept.end(), [&](const Prompt& k) { return k.characters < p.characters; });
  kept.insert(at, std::move(p));
  if (kept.size() > k_longest_per_task) kept.pop_back();
}

std::map<std::string, double> ContextCheck::check(Backend& backend, const nlohmann::json& endpoint,
                                                  const BackendOptions& options, bool judge) const {
  std::map<std::string, double> per_character;
  if (m_kept.empty() || !endpoint.is_object()) return per_character;
  const std::optional<ContextLimit> limit = context_limit(endpoint);
  std::vector<std::string> texts;
  for (const auto& [task, prompts] : m_kept)
    for (const auto& p : prompts) texts.push_back(p.text);
  const auto counts = backend.count_tokens(texts);
  if (!counts || counts->size() != texts.size()) {
    if (limit)
      fmt::print(stderr, "note: {} states a context of {} tokens but counted no prompt (its /tokenize did not answer); "
                         "prompts are not checked before the run\n", text::join(options.base_urls, ", "), limit->total_tokens);
    return per_character;
  }

  std::vector<std::string> overflows, risks;
  long long needed_most = 0;
  size_t i = 0;
  for (const auto& [task, prompts] : m_kept) {
    long long tokens = 0, characters = 0, worst_over = 0, worst_risk = 0;
    std::string shown, risk_shown;
    for (const auto& p : prompts) {
      const long long n = (*counts)[i++];
      tokens += n;
      characters += static_cast<long long>(p.characters);
      if (!limit) continue;
      // vLLM, SGLang and TGI refuse a prompt whose generation would pass the context; llama.cpp
      // only one that does not fit itself (a long answer stops at the slot's end).
      const long long generated = limit->counts_generation ? p.max_new_tokens : 0;
      const long long over = std::max(n - limit->tokens + (limit->counts_generation ? 0 : 1),
                                      n + generated - limit->total_tokens);
      if (over > worst_over) {
        worst_over = over;
        shown = fmt::format("{}: the longest prompt is {} tokens{} against {}; {} over", task, n,
                            generated ? fmt::format(" + {} to generate", generated) : "",
                            limit->tokens == limit->total_tokens ? fmt::format("{}", limit->tokens)
                                                                 : fmt::format("{} ({} in all)", limit->tokens, limit->total_tokens),
                            over);
        needed_most = std::max(needed_most, limit->total_tokens + over);
      }
      const long long risk = over + p.answer_tokens;
      if (over <= 0 && p.answer_tokens > 0 && risk > worst_risk) {
        worst_risk = risk;
        risk_shown = fmt::format("{} ({} tokens without the answers, up to {} with them)", task, n, n + p.answer_tokens);
      }
    }
    if (characters > 0) per_character[task] = static_cast<double>(tokens) / static_cast<double>(characters);
    if (worst_over > 0) overflows.push_back(shown);
    else if (worst_risk > 0) risks.push_back(risk_shown);
  }
  const std::string server = text::join(options.base_urls, ", ");
  if (!overflows.empty())
    throw InputError(fmt::format("the {} prompts of {} task{} do not fit the context of {} ({}; counted by its /tokenize):\n  {}\n"
                                 "what to change: {}",
                                 judge ? "judge" : "model", overflows.size(), overflows.size() == 1 ? "" : "s", server,
                                 limit->source, text::join(overflows, "\n  "),
                                 what_to_change(endpoint, *limit, needed_most, judge)));
  if (!risks.empty())
    fmt::print(stderr, "warning: judge prompts of {} may not fit the context of {} ({} tokens) when the model's answers "
                       "are near --max-tokens; one that does not fails as context_exceeded\n",
               text::join(risks, ", "), server, limit->total_tokens);
  return per_character;
}

} // namespace keval
