#pragma once
// The HTTP transport of the API backends: libcurl's multi interface on the calling thread, so
// responses reach the runner (and the store) as they arrive without locks. Connections are
// kept alive and reused; at most `concurrency` requests are in flight, fewer while the server
// answers 429 (halved on a 429, one more back per window of successes).
// Retries: connection errors, timeouts, 408, 429, 5xx and bodies the caller cannot parse, with
// exponential backoff and jitter, or the server's Retry-After / retry-after-ms when it sends one.
// Other 4xx are the caller's mistake and fail at once, naming the status and the body.
// Bounded memory: a reply body past `max_response_bytes` fails its request (kind too_large, not
// retried), and of an error reply only the head is kept. Every body is redacted of the secrets
// keval was given (secrets.h) before it is parsed or quoted.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "request.h"

namespace keval {

struct HttpEngineOptions {
  std::vector<std::string> base_urls;  // replicas of one model; requests are spread over them
  std::vector<std::string> headers;    // "Name: value", sent with every request
  int concurrency = 16;                // requests in flight at most
  double timeout = 300;                // seconds, whole request (connect to last byte)
  int max_retries = 5;                 // attempts after the first
  double rps = 0;                      // requests started per second at most; 0: no limit
  double backoff_base = 0.5;           // seconds before the first retry (doubles each retry)
  double backoff_max = 30;             // seconds, longest wait between attempts
  long low_speed_time = 60;            // seconds under 1 byte/s before the request is abandoned
  size_t max_response_bytes = k_default_max_response_bytes;  // a reply body's size at most
};

struct HttpCall {
  std::string path;                    // appended to a base URL, e.g. "/chat/completions"
  std::string body;                    // JSON
};

// Turns a 2xx body into a Response; a `malformed` result is retried like a server error.
using ParseBody = std::function<Response(size_t index, const std::string& body)>;

// Retry-After is either delta-seconds or an HTTP date; nullopt when it is neither.
std::optional<double> parse_retry_after(const std::string& value, long long now_epoch_seconds);
// Whether a status deserves another attempt (408, 429, 5xx).
bool retryable_status(long status);

struct HttpStats {
  long long attempts = 0;
  long long retries = 0;
  long long throttled = 0;             // 429 replies
};

class HttpEngine {
public:
  // `bearer_token` (may be empty) goes into an Authorization header and nowhere else.
  HttpEngine(HttpEngineOptions options, const std::string& bearer_token);
  ~HttpEngine();
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  // Sends every call; `on_done(i, response)` runs exactly once per index, on this thread.
  // An exception from on_done stops the engine (transfers in flight are dropped) and propagates.
  void run(std::span<const HttpCall> calls, const ParseBody& parse,
           const std::function<void(size_t, Response)>& on_done);

  const HttpStats& stats() const { return m_stats; }

private:
  struct Impl;
  HttpEngineOptions m_options;
  std::unique_ptr<Impl> m_impl;
  HttpStats m_stats;
};

} // namespace keval
