// `openai-chat` and `openai-completions`: OpenAI-compatible servers (vLLM, llama.cpp server,
// Ollama, TGI, SGLang, hosted APIs). The wire format lives in openai_format (pure functions),
// the transport in HttpEngine; this file joins them.
#include <cstdlib>
#include <unordered_map>

#include <fmt/format.h>

#include "backend.h"
#include "backends/logprob_api.h"
#include "backends/openai_format.h"
#include "http_engine.h"
#include "server_probe.h"
#include "sha256.h"
#include "error.h"
#include "text.h"

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

// The engine for the native log-prob shapes, whose /generate lies at the server's root.
std::unique_ptr<HttpEngine> root_engine(const BackendOptions& o) {
  HttpEngineOptions e = engine_options(o);
  for (auto& url : e.base_urls) url = server_root(url);
  return std::make_unique<HttpEngine>(e, api_key_from_environment(o.judge));
}

std::optional<openai::LogprobApi> chosen_api(const BackendOptions& o, bool chat) {
  if (o.logprobs_api == "auto") return std::nullopt;
  if (chat) throw InputError("--logprobs-api applies to --backend openai-completions (chat endpoints score no given text)");
  auto api = openai::parse_logprob_api(o.logprobs_api);
  if (!api) throw InputError(fmt::format("--logprobs-api '{}' is not one of auto, openai, sglang, tgi", o.logprobs_api));
  return api;
}

class OpenAiBackend final : public Backend {
public:
  OpenAiBackend(const BackendOptions& o, bool chat)
      : m_chat(chat), m_engine_options(engine_options(o)), m_api_key(api_key_from_environment(o.judge)),
        m_engine(m_engine_options, m_api_key), m_base_urls(o.base_urls), m_timeout(std::min(o.timeout, 30.0)),
        m_api(chosen_api(o, chat)), m_root_engine(chat ? nullptr : root_engine(o)) {
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
    m_first_endpoint = endpoints.empty() ? nlohmann::json() : endpoints[0];
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

  // Counted by the first endpoint's /tokenize (replicas serve one model), one text at a time.
  std::optional<std::vector<long long>> count_tokens(const std::vector<std::string>& texts) override {
    const ServerKind kind = server_kind(m_first_endpoint);
    if (kind == ServerKind::other || m_base_urls.empty()) return std::nullopt;
    std::vector<long long> counts;
    for (const auto& text : texts) {
      const HttpReply reply = http_post_json(server_root(m_base_urls.front()) + "/tokenize",
                                             *tokenize_body(kind, m_payload.model, text), m_probe_headers, m_timeout);
      std::optional<long long> n = reply.status == 200 ? parse_token_count(kind, reply.body) : std::nullopt;
      if (!n) return std::nullopt;
      counts.push_back(*n);
    }
    return counts;
  }

  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    // A refusal that says the prompt is longer than the server's context is its own kind of failure.
    auto done = [&](size_t i, Response r) {
      openai::classify_context_exceeded(r);
      on_response(i, std::move(r));
    };
    const openai::LogprobApi api = m_api.value_or(openai::LogprobApi::openai);
    std::vector<HttpCall> calls, root_calls;
    std::vector<size_t> request_of;                    // per call: its request in `batch`
    std::vector<std::pair<size_t, size_t>> part_of;    // per root call: (request, part)
    std::vector<std::vector<Response>> parts(batch.size());
    std::vector<size_t> waiting(batch.size(), 0);
    for (size_t i = 0; i < batch.size(); ++i) {
      const Request& r = batch[i];
      if (r.kind != RequestKind::loglikelihood || !openai::at_server_root(api)) {
        calls.push_back(call(r));
        request_of.push_back(i);
        continue;
      }
      auto native = openai::loglikelihood_calls(api, r, m_payload);
      parts[i].resize(native.size());
      waiting[i] = native.size();
      for (size_t p = 0; p < native.size(); ++p) {
        root_calls.push_back({native[p].path, std::move(native[p].body)});
        part_of.emplace_back(i, p);
      }
    }
    if (!calls.empty())
      m_engine.run(
          calls,
          [&](size_t c, const std::string& reply) { return parse(batch[request_of[c]], reply); },
          [&](size_t c, Response r) { done(request_of[c], std::move(r)); });
    if (root_calls.empty()) return;
    // A request scored in several parts (TGI: one a text) is answered once all have come back.
    m_root_engine->run(
        root_calls,
        [&](size_t c, const std::string& reply) {
          return openai::parse_loglikelihood_part(api, reply, batch[part_of[c].first], part_of[c].second);
        },
        [&](size_t c, Response r) {
          const auto [i, p] = part_of[c];
          parts[i][p] = std::move(r);
          if (--waiting[i] > 0) return;
          for (auto& part : parts[i])
            if (!part.ok()) return done(i, std::move(part));
          done(i, openai::combine_loglikelihood_parts(api, batch[i], parts[i]));
          parts[i].clear();
        });
  }

  // Its own engines (connections, throttling window) with `concurrency` slots: a request is sent
  // the moment it is submitted and a slot is free, whatever else is still in flight.
  std::unique_ptr<RequestStream> open_stream(size_t concurrency) override {
    HttpEngineOptions options = m_engine_options;
    if (concurrency > 0) options.concurrency = static_cast<int>(std::min<size_t>(concurrency, 1 << 20));
    return std::make_unique<Stream>(*this, options);
  }

private:
  // Requests by tag until their response is handed back; the backend must outlive its stream.
  // A log-likelihood request in a native shape goes to the server's root, in one part or several
  // (TGI: one a text), and is handed back once every part has come back.
  class Stream final : public RequestStream {
  public:
    Stream(const OpenAiBackend& backend, const HttpEngineOptions& options)
        : m_backend(backend), m_engine(options, backend.m_api_key) {
      if (backend.m_chat) return;
      HttpEngineOptions root = options;
      for (auto& url : root.base_urls) url = server_root(url);
      m_root = std::make_unique<HttpEngine>(root, backend.m_api_key);
    }
    size_t free_slots() const override {
      return m_root ? std::min(m_engine.free_slots(), m_root->free_slots()) : m_engine.free_slots();
    }
    size_t in_flight() const override { return m_requests.size(); }
    void submit(Request request) override {
      const size_t tag = m_next_tag++;
      const openai::LogprobApi api = m_backend.m_api.value_or(openai::LogprobApi::openai);
      Pending& pending = m_requests.emplace(tag, Pending{std::move(request), {}, 0}).first->second;
      const Request& r = pending.request;
      if (r.kind != RequestKind::loglikelihood || !openai::at_server_root(api) || !m_root) {
        m_engine.submit(tag, m_backend.call(r), [this](size_t t, const std::string& reply) {
          return m_backend.parse(m_requests.at(t).request, reply);
        });
        return;
      }
      auto native = openai::loglikelihood_calls(api, r, m_backend.m_payload);
      pending.parts.resize(native.size());
      pending.waiting = native.size();
      for (size_t p = 0; p < native.size(); ++p) {
        const size_t part_tag = m_next_tag++;
        m_part_of.emplace(part_tag, std::make_pair(tag, p));
        m_root->submit(part_tag, {native[p].path, std::move(native[p].body)},
                       [this, api](size_t t, const std::string& reply) {
                         const auto [owner, part] = m_part_of.at(t);
                         return openai::parse_loglikelihood_part(api, reply, m_requests.at(owner).request, part);
                       });
      }
    }
    void poll(double timeout_seconds, const std::function<void(Request, Response)>& on_response) override {
      auto done = [&](size_t tag, Response response) {
        // A refusal that says the prompt is longer than the server's context is its own kind of failure.
        openai::classify_context_exceeded(response);
        auto node = m_requests.extract(tag);
        on_response(std::move(node.mapped().request), std::move(response));
      };
      const bool root_pending = m_root && m_root->pending();
      const double wait = root_pending && m_engine.pending() ? timeout_seconds / 2 : timeout_seconds;
      if (m_engine.pending() || !root_pending) m_engine.poll(wait, done);
      if (!root_pending) return;
      const openai::LogprobApi api = m_backend.m_api.value_or(openai::LogprobApi::openai);
      m_root->poll(wait, [&](size_t part_tag, Response response) {
        const auto [tag, part] = m_part_of.at(part_tag);
        m_part_of.erase(part_tag);
        Pending& pending = m_requests.at(tag);
        pending.parts[part] = std::move(response);
        if (--pending.waiting > 0) return;
        for (auto& p : pending.parts)
          if (!p.ok()) return done(tag, std::move(p));
        Response combined = openai::combine_loglikelihood_parts(api, pending.request, pending.parts);
        done(tag, std::move(combined));
      });
    }

  private:
    struct Pending {
      Request request;
      std::vector<Response> parts;  // native shapes: one a call
      size_t waiting = 0;            // parts not yet back
    };
    const OpenAiBackend& m_backend;
    HttpEngine m_engine;
    std::unique_ptr<HttpEngine> m_root;  // the native shapes' calls, to the servers' roots
    std::unordered_map<size_t, Pending> m_requests;
    std::unordered_map<size_t, std::pair<size_t, size_t>> m_part_of;  // part's tag -> (request's tag, part)
    size_t m_next_tag = 0;
  };

  HttpCall call(const Request& r) const {
    return {m_chat ? "/chat/completions" : "/completions", r.payload.empty() ? body(r) : r.payload};
  }

  Response parse(const Request& r, const std::string& reply) const {
    if (r.kind == RequestKind::loglikelihood) return openai::parse_loglikelihood_response(reply, r);
    return m_chat ? openai::parse_chat_response(reply) : openai::parse_completions_response(reply);
  }

  // One scoring request, as a run sends it, to every endpoint, in each shape keval reads (or the
  // one --logprobs-api names), first the OpenAI legacy one: prompt log-probs are available in
  // the first shape every endpoint answers. Each refusal is recorded with what the server said.
  nlohmann::json probe_prompt_logprobs() {
    Request r;
    r.key = "probe";
    r.kind = RequestKind::loglikelihood;
    r.context = "대한민국의 수도는";
    r.continuations = {" 서울이다.", " 부산이다."};
    std::vector<openai::LogprobApi> shapes{openai::LogprobApi::openai, openai::LogprobApi::sglang, openai::LogprobApi::tgi};
    if (m_api) shapes = {*m_api};
    nlohmann::json refused = nlohmann::json::array();
    for (const openai::LogprobApi api : shapes) {
      nlohmann::json refusal;
      for (const auto& url : m_base_urls) {
        std::string base = url;
        while (!base.empty() && base.back() == '/') base.pop_back();
        if (openai::at_server_root(api)) base = server_root(base);
        std::vector<Response> parts;
        std::string detail;
        for (const auto& call : openai::loglikelihood_calls(api, r, m_payload)) {
          const HttpReply reply = http_post_json(base + call.path, call.body, m_probe_headers, m_timeout);
          if (reply.status != 200) {
            detail = fmt::format("POST {}{}: ", base, call.path) +
                     (reply.status ? fmt::format("HTTP {}: {}", reply.status, reply.body.substr(0, 300)) : reply.error);
            break;
          }
          parts.push_back(openai::parse_loglikelihood_part(api, reply.body, r, parts.size()));
          if (!parts.back().ok()) {
            detail = fmt::format("POST {}{}: {}", base, call.path, parts.back().message);
            break;
          }
        }
        if (detail.empty()) {
          Response combined = openai::combine_loglikelihood_parts(api, r, parts);
          if (combined.ok() && combined.logprobs.size() == r.continuations.size()) continue;
          detail = combined.message;
        }
        refusal = {{"api", openai::to_string(api)}, {"server", url}, {"detail", detail.substr(0, 500)}};
        break;
      }
      if (refusal.is_null()) {
        m_prompt_logprobs = true;
        m_api = api;
        return {{"available", true}, {"api", openai::to_string(api)}, {"refused", refused},
                {"detail", fmt::format("{} returned the prompt's token log-probs", k_shape_requests[static_cast<int>(api)])}};
      }
      refused.push_back(std::move(refusal));
    }
    m_prompt_logprobs = false;
    // `server` and `detail` of the first refusal name what the server returned in the shape
    // most servers offer; `refused` lists every shape tried.
    return {{"available", false}, {"server", refused[0]["server"]}, {"detail", refused[0]["detail"]}, {"refused", refused}};
  }

  // The exact body sent for `r`; a log-likelihood request in a native shape of several
  // requests (TGI) is their bodies a line each.
  std::string body(const Request& r) const {
    if (r.kind == RequestKind::loglikelihood) {
      std::string out;
      for (const auto& call : openai::loglikelihood_calls(m_api.value_or(openai::LogprobApi::openai), r, m_payload))
        out += (out.empty() ? "" : "\n") + call.body;
      return out;
    }
    nlohmann::json j = m_chat ? openai::chat_payload(r, m_payload) : openai::completions_payload(r, m_payload);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  static constexpr const char* k_shape_requests[] = {"echo with logprobs on /completions",
                                                     "SGLang's /generate with return_logprob",
                                                     "TGI's /generate with decoder_input_details"};

  bool m_chat;
  openai::PayloadOptions m_payload;
  HttpEngineOptions m_engine_options;
  std::string m_api_key;                     // from the environment; only ever sent as a header
  HttpEngine m_engine;
  std::vector<std::string> m_base_urls;
  double m_timeout;                          // seconds for each probe request
  std::vector<std::string> m_probe_headers;  // never stored
  std::optional<bool> m_prompt_logprobs;     // what the probe saw; unset until probed
  std::optional<openai::LogprobApi> m_api;   // the prompt log-probs' shape: given, or found by the probe
  std::unique_ptr<HttpEngine> m_root_engine; // the native shapes' requests, to the servers' roots
  nlohmann::json m_first_endpoint;           // the first endpoint's identity record, once probed
};

} // namespace

std::unique_ptr<Backend> make_openai_chat_backend(const BackendOptions& options) {
  return std::make_unique<OpenAiBackend>(options, true);
}

std::unique_ptr<Backend> make_openai_completions_backend(const BackendOptions& options) {
  return std::make_unique<OpenAiBackend>(options, false);
}

} // namespace keval
