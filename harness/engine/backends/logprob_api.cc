#include "backends/logprob_api.h"

#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace keval::openai {
namespace {

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string excerpt(std::string_view body) {
  constexpr size_t k_max = 200;
  std::string out(body.substr(0, k_max));
  if (body.size() > k_max) out += "…";
  return out;
}

Response malformed(const std::string& why, std::string_view body) {
  return Response::failed(FailureKind::malformed, fmt::format("{}: {}", why, excerpt(body)));
}

// The texts a native shape scores: the context alone first, then context + each continuation.
std::vector<std::string> scored_texts(const Request& r) {
  std::vector<std::string> texts{r.context};
  for (const auto& c : r.continuations) texts.push_back(r.context + c);
  return texts;
}

// A server's error object ({"error": "..."} as TGI, {"error": {"message": ...}}, or
// {"object": "error", "message": ...} as vLLM and SGLang) in a 200 reply: its message.
std::optional<std::string> error_message(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  if (j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    return e.dump();
  }
  if (j.value("object", "") == "error" && j.contains("message") && j["message"].is_string())
    return j["message"].get<std::string>();
  return std::nullopt;
}

// One prompt's token log-probs from a list of entries, `value` reading one entry's log-prob;
// null (the first token) is NaN. nullopt and `error` when an entry is not a number or null.
template <typename Read>
std::optional<std::vector<double>> token_logprobs(const nlohmann::json& list, Read value, std::string* error) {
  if (!list.is_array() || list.empty()) {
    *error = "no prompt token log-probs";
    return std::nullopt;
  }
  std::vector<double> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json* v = value(list[i]);
    if (v && v->is_number()) out.push_back(v->get<double>());
    else if (v && v->is_null()) out.push_back(std::numeric_limits<double>::quiet_NaN());
    else {
      *error = fmt::format("prompt token {} has no log-prob", i);
      return std::nullopt;
    }
  }
  return out;
}

// SGLang: meta_info.input_token_logprobs of one reply, [[logprob, id, text-or-null], …].
std::optional<std::vector<double>> sglang_prompt_logprobs(const nlohmann::json& reply, std::string* error) {
  if (!reply.is_object() || !reply.contains("meta_info") || !reply["meta_info"].is_object() ||
      !reply["meta_info"].contains("input_token_logprobs")) {
    *error = "no meta_info.input_token_logprobs (does the server take return_logprob?)";
    return std::nullopt;
  }
  return token_logprobs(reply["meta_info"]["input_token_logprobs"], [](const nlohmann::json& e) -> const nlohmann::json* {
    return e.is_array() && !e.empty() ? &e[0] : nullptr;
  }, error);
}

// TGI: details.prefill of one reply, [{id, text, logprob}, …].
std::optional<std::vector<double>> tgi_prompt_logprobs(const nlohmann::json& reply, std::string* error) {
  if (!reply.is_object() || !reply.contains("details") || !reply["details"].is_object() ||
      !reply["details"].contains("prefill")) {
    *error = "no details.prefill (does the server take decoder_input_details?)";
    return std::nullopt;
  }
  return token_logprobs(reply["details"]["prefill"], [](const nlohmann::json& e) -> const nlohmann::json* {
    return e.is_object() && e.contains("logprob") ? &e["logprob"] : nullptr;
  }, error);
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

} // namespace

const char* to_string(LogprobApi api) {
  switch (api) {
  case LogprobApi::openai: return "openai";
  case LogprobApi::sglang: return "sglang";
  case LogprobApi::tgi: return "tgi";
  }
  return "openai";
}

std::optional<LogprobApi> parse_logprob_api(std::string_view name) {
  for (LogprobApi api : {LogprobApi::openai, LogprobApi::sglang, LogprobApi::tgi})
    if (name == to_string(api)) return api;
  return std::nullopt;
}

bool at_server_root(LogprobApi api) { return api != LogprobApi::openai; }

std::vector<LogprobCall> loglikelihood_calls(LogprobApi api, const Request& r, const PayloadOptions& o) {
  switch (api) {
  case LogprobApi::openai:
    return {{"/completions", dump(loglikelihood_payload(r, o))}};
  case LogprobApi::sglang: {
    // max_new_tokens 0: the prompt is scored, nothing generated.
    const nlohmann::json body = {{"text", scored_texts(r)},
                                 {"sampling_params", {{"max_new_tokens", 0}, {"temperature", 0.0}}},
                                 {"return_logprob", true},
                                 {"logprob_start_len", 0}};
    return {{"/generate", dump(body)}};
  }
  case LogprobApi::tgi: {
    // TGI refuses max_new_tokens 0; the one generated token is not read.
    std::vector<LogprobCall> calls;
    for (const auto& text : scored_texts(r))
      calls.push_back({"/generate", dump({{"inputs", text},
                                          {"parameters", {{"max_new_tokens", 1}, {"do_sample", false},
                                                          {"details", true}, {"decoder_input_details", true}}}})});
    return calls;
  }
  }
  return {};
}

std::optional<double> sum_past_context(const std::vector<double>& whole, size_t context_tokens, std::string* error) {
  if (whole.size() <= context_tokens) {
    *error = "no token of the reply lies in the continuation";
    return std::nullopt;
  }
  double sum = 0;
  for (size_t i = context_tokens; i < whole.size(); ++i) {
    if (std::isnan(whole[i])) {
      *error = fmt::format("token {} of the continuation has no log-prob", i);
      return std::nullopt;
    }
    sum += whole[i];
  }
  if (!std::isfinite(sum)) {
    *error = "the continuation's log-probs do not add up to a finite number";
    return std::nullopt;
  }
  return sum;
}

Response parse_loglikelihood_part(LogprobApi api, std::string_view body, const Request& r, size_t part) {
  if (api == LogprobApi::openai) return parse_loglikelihood_response(body, r);
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return malformed("the reply is not JSON", body);
  if (auto message = error_message(j)) return Response::failed(FailureKind::backend, "server error: " + *message);
  std::string error;
  if (api == LogprobApi::tgi) {
    auto values = tgi_prompt_logprobs(j, &error);
    if (!values) return malformed(fmt::format("text {}: {}", part, error), body);
    Response out;
    // Usage: the prompt's tokens are its prefill; details.generated_tokens what was generated.
    out.prompt_tokens = static_cast<long long>(values->size());
    if (j["details"].contains("generated_tokens") && j["details"]["generated_tokens"].is_number_integer())
      out.completion_tokens = j["details"]["generated_tokens"].get<long long>();
    out.logprobs = std::move(*values);
    return out;
  }
  // SGLang answers a list of texts with a list of replies, in order.
  const size_t expected = r.continuations.size() + 1;
  if (!j.is_array() || j.size() != expected)
    return malformed(fmt::format("expected a list of {} replies (the context, then each continuation)", expected), body);
  std::vector<std::vector<double>> texts;
  for (size_t k = 0; k < j.size(); ++k) {
    auto values = sglang_prompt_logprobs(j[k], &error);
    if (!values) return malformed(fmt::format("reply {}: {}", k, error), body);
    texts.push_back(std::move(*values));
  }
  Response out;
  for (size_t c = 0; c < r.continuations.size(); ++c) {
    auto value = sum_past_context(texts[c + 1], texts[0].size(), &error);
    if (!value) return malformed(fmt::format("continuation {}: {}", c, error), body);
    out.logprobs.push_back(*value);
  }
  // Usage: meta_info's prompt_tokens and completion_tokens of every text, where SGLang sends them.
  long long prompt = 0, completion = 0;
  bool reported = true;
  for (const auto& reply : j) {
    const auto& meta = reply["meta_info"];
    reported = reported && meta.contains("prompt_tokens") && meta["prompt_tokens"].is_number_integer();
    if (!reported) break;
    prompt += meta["prompt_tokens"].get<long long>();
    if (meta.contains("completion_tokens") && meta["completion_tokens"].is_number_integer())
      completion += meta["completion_tokens"].get<long long>();
  }
  if (reported) {
    out.prompt_tokens = prompt;
    out.completion_tokens = completion;
  }
  return out;
}

Response combine_loglikelihood_parts(LogprobApi api, const Request& r, const std::vector<Response>& parts) {
  if (api != LogprobApi::tgi) return parts.empty() ? Response::failed(FailureKind::backend, "no reply") : parts.front();
  if (parts.size() != r.continuations.size() + 1)
    return Response::failed(FailureKind::backend, fmt::format("expected {} replies, got {}", r.continuations.size() + 1, parts.size()));
  Response out;
  for (size_t c = 0; c < r.continuations.size(); ++c) {
    std::string error;
    auto value = sum_past_context(parts[c + 1].logprobs, parts[0].logprobs.size(), &error);
    if (!value) return Response::failed(FailureKind::malformed, fmt::format("continuation {}: {}", c, error));
    out.logprobs.push_back(*value);
  }
  // Usage: what every request of the question cost, the context's included.
  long long prompt = 0, completion = 0;
  for (const auto& p : parts) {
    prompt += p.prompt_tokens.value_or(0);
    completion += p.completion_tokens.value_or(0);
  }
  out.prompt_tokens = prompt;
  out.completion_tokens = completion;
  return out;
}

bool says_context_exceeded(int http_status, std::string_view message) {
  if (http_status != 400 && http_status != 413 && http_status != 422) return false;
  std::string lower(message);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return contains(lower, "exceed_context_size_error") ||            // llama.cpp
         contains(lower, "exceeds the available context size") ||   // llama.cpp
         contains(lower, "maximum context length") ||               // vLLM, SGLang ("exceeds the model's maximum context length")
         contains(lower, "longer than the maximum model length") || // vLLM's engine ("The decoder prompt (length n) is …")
         contains(lower, "longer than the model's context length") ||  // SGLang
         contains(lower, "`inputs` tokens + `max_new_tokens` must be <=") ||  // TGI
         contains(lower, "`inputs` must have less than");           // TGI
}

void classify_context_exceeded(Response& r) {
  if (r.failure == FailureKind::http_status && says_context_exceeded(r.http_status, r.message))
    r.failure = FailureKind::context_exceeded;
}

} // namespace keval::openai
