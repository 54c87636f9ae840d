// `openai-chat` and `openai-completions`: OpenAI-compatible servers (vLLM, llama.cpp server,
// Ollama, TGI, SGLang, hosted APIs). The wire format lives in openai_format (pure functions),
// the transport in HttpEngine; this file joins them.
#include <cstdlib>
#include <unordered_map>

#include <fmt/format.h>

#include "backend.h"
#include "backends/openai_format.h"
#include "http_engine.h"
#include "server_probe.h"
#include "util/sha256.h"
#include "util/error.h"
#include "util/text.h"

namespace keval {
namespace {

// The API key comes only from the environment, so it never reaches a command line, the run's
// configuration or the database.
std::string api_key_from_environment(bool judge) {
  if (judge)
    if (const char* v = std::getenv("KEVAL_JUDGE_API_KEY"); v && *v) return v;
  for (const char* name : {"KEVAL_API_KEY", "OPENAI_API_KEY"})
    if (const char* v = std::getenv(name); v && *v) return v;
  return "";
}

// "Name:value" or "Name: value" -> "Name: value".
std::string normalise_header(const std::string& h) {
  auto colon = h.find(':');
  // The header is not quoted back: without its colon, all of it may be the secret.
  if (colon == std::string::npos || colon == 0)
    throw InputError("a --header (or --judge-header) is not NAME:VALUE (its text is not shown: it may hold a secret)");
  std::string name(text::trim(std::string_view(h).substr(0, colon)));
  std::string value(text::trim(std::string_view(h).substr(colon + 1)));
  return name + ": " + value;
}

HttpEngineOptions engine_options(const BackendOptions& o) {
  if (o.base_urls.empty())
    throw InputError(fmt::format("--backend {} needs --base-url (e.g. http://127.0.0.1:8000/v1)", o.kind));
  for (const auto& url : o.base_urls)
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      throw InputError(fmt::format("--base-url '{}' must start with http:// or https://", url));
  if (o.model.empty()) throw InputError(fmt::format("--backend {} needs --model (the name the server serves)", o.kind));
  if (o.timeout <= 0) throw InputError("--timeout must be positive (seconds)");
  if (o.max_retries < 0) throw InputError("--max-retries must be 0 or more");
  if (o.rps < 0) throw InputError("--rps must be 0 (no limit) or more");
  if (o.max_response_bytes == 0) throw InputError("--max-response-bytes must be positive");
  HttpEngineOptions e;
  e.base_urls = o.base_urls;
  for (const auto& h : o.headers) e.headers.push_back(normalise_header(h));
  e.concurrency = o.concurrency;
  e.timeout = o.timeout;
  e.max_retries = o.max_retries;
  e.rps = o.rps;
  e.max_response_bytes = o.max_response_bytes;
  return e;
}

class OpenAiBackend final : public Backend {
public:
  OpenAiBackend(const BackendOptions& o, bool chat)
      : m_chat(chat), m_engine_options(engine_options(o)), m_api_key(api_key_from_environment(o.judge)),
        m_engine(m_engine_options, m_api_key), m_base_urls(o.base_urls), m_timeout(std::min(o.timeout, 30.0)) {
    m_payload.model = o.model;
    m_payload.max_tokens = o.max_tokens;
    m_payload.temperature = o.temperature;
    const std::string key = api_key_from_environment(o.judge);
    if (!key.empty()) m_probe_headers.push_back("Authorization: Bearer " + key);
    for (const auto& h : o.headers) m_probe_headers.push_back(normalise_header(h));
  }

  std::string kind() const override { return m_chat ? "openai-chat" : "openai-completions"; }
  // Chat endpoints score no given text: log-likelihood needs echo on /completions, and then only
  // where the probe saw prompt log-probs come back (llama.cpp's server accepts echo and ignores it).
  bool supports_loglikelihood(std::string_view) const override { return !m_chat && m_prompt_logprobs.value_or(true); }

  nlohmann::json probe(bool want_loglikelihood) override {
    nlohmann::json endpoints = nlohmann::json::array();
    bool named = true;
    for (const auto& url : m_base_urls) {
      endpoints.push_back(probe_endpoint(url, m_payload.model, m_probe_headers, m_timeout));
      named = named && names_a_model(endpoints.back());
    }
    // No identity when a server names no model (it then keys nothing): --model-id pins one.
    nlohmann::json out = {{"endpoints", endpoints}, {"identity", named ? sha256_hex(endpoints.dump()).substr(0, 16) : ""}};
    if (m_chat) {
      m_prompt_logprobs = false;
      out["prompt_logprobs"] = {{"available", false}, {"detail", "chat endpoints score no given text"}};
    } else if (want_loglikelihood) {
      out["prompt_logprobs"] = probe_prompt_logprobs();
    }
    return out;
  }

  std::optional<std::string> cache_payload(const Request& r) const override { return body(r); }

  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    std::vector<HttpCall> calls;
    calls.reserve(batch.size());
    for (const auto& r : batch) calls.push_back(call(r));
    m_engine.run(calls, [&](size_t i, const std::string& reply) { return parse(batch[i], reply); }, on_response);
  }

  // Its own engine (connections, throttling window) with `concurrency` slots: a request is sent
  // the moment it is submitted and a slot is free, whatever else is still in flight.
  std::unique_ptr<RequestStream> open_stream(size_t concurrency) override {
    HttpEngineOptions options = m_engine_options;
    if (concurrency > 0) options.concurrency = static_cast<int>(std::min<size_t>(concurrency, 1 << 20));
    return std::make_unique<Stream>(*this, options);
  }

private:
  // Requests by tag until their response is handed back; the backend must outlive its stream.
  class Stream final : public RequestStream {
  public:
    Stream(const OpenAiBackend& backend, const HttpEngineOptions& options) : m_backend(backend), m_engine(options, backend.m_api_key) {}
    size_t free_slots() const override { return m_engine.free_slots(); }
    size_t in_flight() const override { return m_engine.pending(); }
    void submit(Request request) override {
      const size_t tag = m_next_tag++;
      HttpCall http = m_backend.call(request);
      m_requests.emplace(tag, std::move(request));
      m_engine.submit(tag, std::move(http), [this](size_t t, const std::string& reply) {
        return m_backend.parse(m_requests.at(t), reply);
      });
    }
    void poll(double timeout_seconds, const std::function<void(Request, Response)>& on_response) override {
      m_engine.poll(timeout_seconds, [&](size_t tag, Response response) {
        auto node = m_requests.extract(tag);
        on_response(std::move(node.mapped()), std::move(response));
      });
    }

  private:
    const OpenAiBackend& m_backend;
    HttpEngine m_engine;
    std::unordered_map<size_t, Request> m_requests;
    size_t m_next_tag = 0;
  };

  HttpCall call(const Request& r) const {
    return {m_chat ? "/chat/completions" : "/completions", r.payload.empty() ? body(r) : r.payload};
  }

  Response parse(const Request& r, const std::string& reply) const {
    if (r.kind == RequestKind::loglikelihood) return openai::parse_loglikelihood_response(reply, r);
    return m_chat ? openai::parse_chat_response(reply) : openai::parse_completions_response(reply);
  }

  // One scoring request, as a run sends it, to every endpoint: prompt log-probs are available
  // only when each answers with them in a shape keval reads.
  nlohmann::json probe_prompt_logprobs() {
    Request r;
    r.key = "probe";
    r.kind = RequestKind::loglikelihood;
    r.context = "대한민국의 수도는";
    r.continuations = {" 서울이다.", " 부산이다."};
    const std::string request = body(r);
    for (const auto& url : m_base_urls) {
      std::string base = url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      const HttpReply reply = http_post_json(base + "/completions", request, m_probe_headers, m_timeout);
      std::string detail;
      if (reply.status == 200) {
        Response parsed = openai::parse_loglikelihood_response(reply.body, r);
        if (parsed.ok()) continue;
        detail = parsed.message;
      } else {
        detail = reply.status ? fmt::format("HTTP {}: {}", reply.status, reply.body.substr(0, 300)) : reply.error;
      }
      m_prompt_logprobs = false;
      return {{"available", false}, {"server", url}, {"detail", detail.substr(0, 500)}};
    }
    m_prompt_logprobs = true;
    return {{"available", true}, {"detail", "echo with logprobs returned the prompt's token log-probs"}};
  }

  std::string body(const Request& r) const {
    nlohmann::json j = r.kind == RequestKind::loglikelihood ? openai::loglikelihood_payload(r, m_payload)
                       : m_chat                            ? openai::chat_payload(r, m_payload)
                                                           : openai::completions_payload(r, m_payload);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  bool m_chat;
  openai::PayloadOptions m_payload;
  HttpEngineOptions m_engine_options;
  std::string m_api_key;                     // from the environment; only ever sent as a header
  HttpEngine m_engine;
  std::vector<std::string> m_base_urls;
  double m_timeout;                          // seconds for each probe request
  std::vector<std::string> m_probe_headers;  // never stored
  std::optional<bool> m_prompt_logprobs;     // what the probe saw; unset until probed
};

} // namespace

std::unique_ptr<Backend> make_openai_chat_backend(const BackendOptions& options) {
  return std::make_unique<OpenAiBackend>(options, true);
}

std::unique_ptr<Backend> make_openai_completions_backend(const BackendOptions& options) {
  return std::make_unique<OpenAiBackend>(options, false);
}

} // namespace keval
