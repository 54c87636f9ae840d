#include "server_probe.h"

#include <curl/curl.h>

#include <fmt/format.h>

namespace keval {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* out) {
  // Identity replies are small; a server that sends more is cut at 1 MiB (its head still names it).
  auto* body = static_cast<std::string*>(out);
  const size_t n = size * count;
  if (body->size() < (1u << 20)) body->append(data, std::min(n, (1u << 20) - body->size()));
  return n;
}

HttpReply perform(const std::string& url, const std::string* post_body, const std::vector<std::string>& headers,
                  double timeout_seconds) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  if (!curl) {
    reply.error = "libcurl could not start";
    return reply;
  }
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (post_body) list = curl_slist_append(list, "Content-Type: application/json");
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_seconds * 1000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (post_body) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  else reply.error = *error ? error : curl_easy_strerror(rc);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

nlohmann::json parse_object(const HttpReply& r) {
  if (r.status != 200) return nullptr;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j : nlohmann::json(nullptr);
}

// Copies the fields of `from` named in `keys` that are present and not null.
void keep(nlohmann::json& to, const nlohmann::json& from, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (from.contains(k) && !from.at(k).is_null()) to[k] = from.at(k);
}

} // namespace

HttpReply http_get(const std::string& url, const std::vector<std::string>& headers, double timeout_seconds) {
  return perform(url, nullptr, headers, timeout_seconds);
}

HttpReply http_post_json(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                         double timeout_seconds) {
  return perform(url, &body, headers, timeout_seconds);
}

std::string server_root(const std::string& base_url) {
  std::string root = base_url;
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (root.size() >= 3 && root.compare(root.size() - 3, 3, "/v1") == 0) root.resize(root.size() - 3);
  return root;
}

nlohmann::json endpoint_identity(const std::string& base_url, const HttpReply& models, const HttpReply& props,
                                 const std::string& requested_model, const HttpReply& info) {
  nlohmann::json out = {{"base_url", base_url}};
  const nlohmann::json m = parse_object(models);
  if (m.is_object() && m.contains("data") && m["data"].is_array()) {
    nlohmann::json list = nlohmann::json::array();
    bool listed = false;
    for (const auto& entry : m["data"])
      listed = listed || (entry.is_object() && entry.value("id", nlohmann::json()) == requested_model);
    for (const auto& entry : m["data"]) {
      if (!entry.is_object()) continue;
      if (listed && entry.value("id", nlohmann::json()) != requested_model) continue;
      nlohmann::json model;
      // id: every server; root, parent, max_model_len: vLLM and SGLang; meta: llama.cpp's model
      // facts (parameters, vocabulary, size). `created` is left out: servers put the time there.
      keep(model, entry, {"id", "owned_by", "root", "parent", "max_model_len", "meta"});
      list.push_back(std::move(model));
    }
    out["models"] = std::move(list);
  } else {
    out["models_error"] = models.status ? fmt::format("GET /models: HTTP {}", models.status)
                                        : fmt::format("GET /models: {}", models.error);
  }
  const nlohmann::json p = parse_object(props);
  if (p.is_object() && (p.contains("model_path") || p.contains("default_generation_settings"))) {
    nlohmann::json llama;
    keep(llama, p, {"model_path", "total_slots"});
    if (p.contains("default_generation_settings") && p["default_generation_settings"].is_object())
      keep(llama, p["default_generation_settings"], {"n_ctx"});
    out["props"] = std::move(llama);
  }
  // TGI's GET /info: the model, its revision and the token limits it was started with.
  const nlohmann::json i = parse_object(info);
  if (i.is_object() && i.contains("model_id") && i.contains("max_total_tokens")) {
    nlohmann::json tgi;
    keep(tgi, i, {"model_id", "model_sha", "max_input_tokens", "max_total_tokens", "version"});
    out["info"] = std::move(tgi);
  }
  return out;
}

nlohmann::json probe_endpoint(const std::string& base_url, const std::string& requested_model,
                              const std::vector<std::string>& headers, double timeout_seconds) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const HttpReply models = http_get(base + "/models", headers, timeout_seconds);
  // /props is llama.cpp's; other servers answer 404, which says nothing about the model.
  const HttpReply props = http_get(server_root(base) + "/props", headers, timeout_seconds);
  // /info is TGI's; others answer 404 (or something without its fields, which is left out).
  const HttpReply info = props.status == 200 ? HttpReply{} : http_get(server_root(base) + "/info", headers, timeout_seconds);
  return endpoint_identity(base_url, models, props, requested_model, info);
}

bool names_a_model(const nlohmann::json& endpoint) {
  return (endpoint.contains("models") && !endpoint["models"].empty()) || endpoint.contains("props") ||
         endpoint.contains("info");
}

ServerKind server_kind(const nlohmann::json& endpoint) {
  if (!endpoint.is_object()) return ServerKind::other;
  if (endpoint.contains("props")) return ServerKind::llama_cpp;
  if (endpoint.contains("info")) return ServerKind::tgi;
  if (endpoint.contains("models") && endpoint["models"].is_array())
    for (const auto& m : endpoint["models"])
      if (m.is_object() && m.contains("max_model_len")) return ServerKind::vllm_or_sglang;
  return ServerKind::other;
}

std::optional<ContextLimit> context_limit(const nlohmann::json& endpoint) {
  const auto positive = [](const nlohmann::json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_number_integer() && j[key].get<long long>() > 0;
  };
  ContextLimit limit;
  switch (server_kind(endpoint)) {
  case ServerKind::llama_cpp:
    if (!positive(endpoint["props"], "n_ctx")) return std::nullopt;
    // llama.cpp refuses a prompt that does not fit the slot; a long answer stops at its end.
    limit.tokens = limit.total_tokens = endpoint["props"]["n_ctx"].get<long long>();
    limit.counts_generation = false;
    limit.source = "llama.cpp /props default_generation_settings.n_ctx (per slot)";
    return limit;
  case ServerKind::tgi: {
    const auto& info = endpoint["info"];
    if (!positive(info, "max_total_tokens")) return std::nullopt;
    limit.total_tokens = info["max_total_tokens"].get<long long>();
    limit.tokens = positive(info, "max_input_tokens") ? info["max_input_tokens"].get<long long>() : limit.total_tokens;
    limit.source = "TGI /info max_input_tokens, max_total_tokens";
    return limit;
  }
  case ServerKind::vllm_or_sglang:
    for (const auto& m : endpoint["models"])
      if (positive(m, "max_model_len")) {
        limit.tokens = limit.total_tokens = m["max_model_len"].get<long long>();
        limit.source = "/v1/models max_model_len";
        return limit;
      }
    return std::nullopt;
  case ServerKind::other: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> tokenize_body(ServerKind kind, const std::string& model, const std::string& text) {
  nlohmann::json body;
  switch (kind) {
  // add_special: count the BOS token llama.cpp's completion endpoints add.
  case ServerKind::llama_cpp: body = {{"content", text}, {"add_special", true}}; break;
  case ServerKind::vllm_or_sglang: body = {{"model", model}, {"prompt", text}}; break;
  case ServerKind::tgi: body = {{"inputs", text}}; break;
  case ServerKind::other: return std::nullopt;
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<long long> parse_token_count(ServerKind kind, const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (kind == ServerKind::tgi) return j.is_array() ? std::optional<long long>(static_cast<long long>(j.size())) : std::nullopt;
  if (!j.is_object()) return std::nullopt;
  if (j.contains("count") && j["count"].is_number_integer()) return j["count"].get<long long>();
  if (j.contains("tokens") && j["tokens"].is_array()) return static_cast<long long>(j["tokens"].size());
  return std::nullopt;
}

} // namespace keval
