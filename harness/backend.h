#pragma once
// A Backend answers a batch of requests. Embedded backends (random, replay) answer in-process;
// HTTP and exec backends slot in behind the same interface.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "request.h"

namespace keval {

struct BackendOptions {
  std::string kind;
  std::string model;               // informational for embedded backends
  std::vector<std::string> base_urls;
  std::string responses_file;      // replay
  std::string command;             // exec
  unsigned long long seed = 1234;  // random
  int concurrency = 16;            // requests in flight
  // HTTP and exec backends.
  std::vector<std::string> headers;   // "Name: value" added to every HTTP request (never stored)
  std::optional<int> max_tokens;      // replaces every task's max_tokens when given
  std::optional<double> temperature;  // replaces every task's temperature when given
  double timeout = 300;               // seconds per request, whole request
  int max_retries = 5;                // attempts after the first
  size_t max_response_bytes = k_default_max_response_bytes;  // an HTTP body or exec line at most
  double rps = 0;                     // requests started per second at most; 0: no limit
  // A judge's backend: replay answers from the file's `judge` arrays, and the API key may come
  // from KEVAL_JUDGE_API_KEY first.
  bool judge = false;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual std::string kind() const = 0;
  // Whether loglikelihood requests for `task` can be answered.
  virtual bool supports_loglikelihood(std::string_view task) const = 0;
  // Answers every request in `batch`. Calls `on_response(i, response)` exactly once for each
  // index i of the batch, in any order, always on the calling thread, before returning.
  // A request that cannot be answered gets a failed Response; answer() throws only for
  // errors that make the whole backend unusable.
  virtual void answer(std::span<const Request> batch,
                      const std::function<void(size_t, Response)>& on_response) = 0;
  // The exact request this backend would send for `r` (e.g. the HTTP body), which keys the
  // response cache together with kind and model. nullopt: responses are not cached (embedded
  // backends answer faster than the cache would).
  virtual std::optional<std::string> cache_payload(const Request& r) const {
    (void)r;
    return std::nullopt;
  }
};

// The response cache's key for a payload sent by this backend kind and model.
std::string response_cache_key(const BackendOptions& options, const std::string& payload);

// Registry: name -> factory. Unknown names get "did you mean …" (InputError).
using BackendFactory = std::function<std::unique_ptr<Backend>(const BackendOptions&)>;
void register_backend(const std::string& kind, BackendFactory factory);
// Every backend it makes is wrapped by with_dispatch, and the secrets among `options` (header
// values, API keys in the environment) are remembered for redaction (secrets.h).
std::unique_ptr<Backend> make_backend(const BackendOptions& options);
// The wrapper around every backend (backend_dispatch.cc): identical requests of a batch (same
// payload) are sent once and share the reply; every reply is redacted of remembered secrets.
std::unique_ptr<Backend> with_dispatch(std::unique_ptr<Backend> backend);
std::vector<std::string> backend_kinds();

} // namespace keval
