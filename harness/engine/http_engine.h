#pragma once
// The HTTP transport of the API backends: libcurl's multi interface on the calling thread, so
// responses reach the caller (and the store) as they arrive without locks. Connections are
// kept alive and reused; at most `concurrency` requests are in flight, fewer while the server
// answers 429 (halved on a 429, one more back per window of successes).
// Two ways to drive it, one loop underneath: submit() a call at any time and poll() for what has
// finished (a run keeps its slots busy this way: a freed slot is refilled at once, never held
// until the slowest call of a batch ends), or run() a whole batch.
// Retries, with exponential backoff and jitter, or the server's Retry-After / retry-after-ms:
// connection errors, timeouts, 408, 409, 429 and 5xx up to `max_retries`; a 2xx body the caller
// cannot parse once only (a server that sent it twice will send it again). Other 4xx are the
// caller's mistake and fail at once, naming the status and the body.
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

// Turns a 2xx body into a Response, given the call's tag (run(): its index); a `malformed`
// result is asked once more, then fails.
using ParseBody = std::function<Response(size_t tag, const std::string& body)>;
// Receives a finished call's response with the tag it was submitted under.
using OnHttpDone = std::function<void(size_t tag, Response)>;

// Retry-After is either delta-seconds or an HTTP date; nullopt when it is neither.
std::optional<double> parse_retry_after(const std::string& value, long long now_epoch_seconds);
// Whether a status deserves another attempt (408, 409, 429, 5xx).
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

  // Incremental mode. Queues a call under the caller's `tag`; it starts as soon as a slot (and
  // the --rps pace) allows. `parse` turns its 2xx body into a Response.
  void submit(size_t tag, HttpCall call, ParseBody parse);
  // Calls submitted whose response has not been handed back: sending, waiting to retry, queued.
  size_t pending() const;
  // The concurrency now: the configured one, less while the server throttles (429).
  size_t concurrency() const;
  // How many more calls may be submitted without queueing: concurrency() less pending() (a call
  // waiting to retry keeps its slot, so a throttling server is not given more to refuse).
  size_t free_slots() const;
  // Drives the transfers for at most `timeout_seconds` (0: one pass that does not wait) and hands
  // every call that finished meanwhile to `on_done`, on this thread. Returns once at least one was
  // handed back, the time is up, or nothing is pending. An exception from on_done propagates and
  // leaves the engine consistent (the calls not yet handed back stay pending).
  void poll(double timeout_seconds, const OnHttpDone& on_done);
  // Drops every pending call: transfers in flight are abandoned, nothing is handed back.
  void cancel_all();

  // Batch mode, on top of the incremental one: sends every call; `on_done(i, response)` runs
  // exactly once per index, on this thread. Nothing else may be pending. An exception from
  // on_done stops the engine (calls in flight are dropped) and propagates.
  void run(std::span<const HttpCall> calls, const ParseBody& parse, const OnHttpDone& on_done);

  const HttpStats& stats() const { return m_stats; }

private:
  struct Impl;
  HttpEngineOptions m_options;
  std::unique_ptr<Impl> m_impl;
  HttpStats m_stats;
};

} // namespace keval
