#pragma once
// What an OpenAI-compatible server says it is, asked before a run sends anything: GET
// {base}/models (every server; vLLM and SGLang add the model's `root` and `max_model_len`) and,
// where offered, llama.cpp's GET {server}/props (model file, per-slot context size) or TGI's
// GET {server}/info (model id and revision, token limits). Only fields
// that name the model are kept, never timestamps, so the same model always gives the same record.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace keval {

struct HttpReply {
  long status = 0;          // 0: no HTTP answer (connection refused, timeout)
  std::string body;
  std::string error;        // transport error, when status is 0
};

// One request with libcurl, no retries; `headers` are "Name: value" lines (never stored).
HttpReply http_get(const std::string& url, const std::vector<std::string>& headers, double timeout_seconds);
HttpReply http_post_json(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                         double timeout_seconds);

// The server root of a base URL: "http://h:8000/v1" -> "http://h:8000".
std::string server_root(const std::string& base_url);

// The identity record of one endpoint from its /models and /props replies (either may be empty).
// A hosted API lists every model it serves: only the entry named `requested_model` is kept when
// the list has it (so a new model on the list changes nothing); otherwise every entry (a
// llama.cpp server lists its one model under its file name, whatever name keval sends).
// TGI's /info reply, when given, adds its model id, revision and token limits.
nlohmann::json endpoint_identity(const std::string& base_url, const HttpReply& models, const HttpReply& props,
                                 const std::string& requested_model, const HttpReply& info = {});

// Asks the endpoint at `base_url`.
nlohmann::json probe_endpoint(const std::string& base_url, const std::string& requested_model,
                              const std::vector<std::string>& headers, double timeout_seconds);

// Whether an endpoint record names a model (its /models or /props answered).
bool names_a_model(const nlohmann::json& endpoint);

// Which server an endpoint record describes, as far as its tokenizer and context size go:
// llama.cpp (answered /props), TGI (answered /info), vLLM or SGLang (list `max_model_len` on
// /v1/models), or another (a hosted API: no /tokenize).
enum class ServerKind { llama_cpp, tgi, vllm_or_sglang, other };
ServerKind server_kind(const nlohmann::json& endpoint);

// The most prompt tokens the endpoint takes, and how the server states it: llama.cpp's per-slot
// n_ctx (/props: its -c shared by --parallel slots), vLLM's and SGLang's max_model_len, TGI's
// max_input_tokens. nullopt when it states none.
struct ContextLimit {
  long long tokens = 0;
  bool counts_generation = true;  // prompt + max_tokens must fit (vLLM, SGLang, TGI's max_total_tokens)
  long long total_tokens = 0;     // TGI: max_total_tokens (prompt + max_new_tokens); else = tokens
  std::string source;             // e.g. "/props default_generation_settings.n_ctx"
};
std::optional<ContextLimit> context_limit(const nlohmann::json& endpoint);

// POST {server}/tokenize for `text` in the server's own shape: llama.cpp {"content", "add_special"},
// vLLM and SGLang {"model", "prompt"}, TGI {"inputs"}. nullopt for servers without one.
std::optional<std::string> tokenize_body(ServerKind kind, const std::string& model, const std::string& text);
// The token count of a /tokenize reply: llama.cpp {"tokens": […]}, vLLM and SGLang {"count": n},
// TGI [{id, text, start, stop}, …]. nullopt when the reply is none of these.
std::optional<long long> parse_token_count(ServerKind kind, const std::string& body);

} // namespace keval
