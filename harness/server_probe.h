#pragma once
// What an OpenAI-compatible server says it is, asked before a run sends anything: GET
// {base}/models (every server; vLLM and SGLang add the model's `root` and `max_model_len`) and,
// where offered, llama.cpp's GET {server}/props (model file, per-slot context size). Only fields
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
nlohmann::json endpoint_identity(const std::string& base_url, const HttpReply& models, const HttpReply& props,
                                 const std::string& requested_model);

// Asks the endpoint at `base_url`.
nlohmann::json probe_endpoint(const std::string& base_url, const std::string& requested_model,
                              const std::vector<std::string>& headers, double timeout_seconds);

// Whether an endpoint record names a model (its /models or /props answered).
bool names_a_model(const nlohmann::json& endpoint);

} // namespace keval
