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

#include <nlohmann/json.hpp>

#include "request.h"
#include "backend_config.h"  // BackendConfig (BackendOptions)

namespace keval {

// A backend's requests in flight, driven by the caller's loop. The run submits a request the
// moment a slot is free, from any task, chunk, turn or judge phase, so no slot waits for the
// slowest request of a batch; one loop drives the model's stream and the judge's together.
class RequestStream {
public:
  virtual ~RequestStream() = default;
  // How many more requests may be submitted now (the concurrency less those in flight; fewer
  // while a server throttles).
  virtual size_t free_slots() const = 0;
  // Submitted requests whose response poll() has not yet handed back.
  virtual size_t in_flight() const = 0;
  // Takes a request to send. Its `task` and `sample` must outlive its response.
  virtual void submit(Request request) = 0;
  // Waits at most `timeout_seconds` for a request to finish, then hands every finished one,
  // with its request, to `on_response` on this thread. An exception from on_response propagates;
  // requests still in flight are abandoned when the stream is destroyed.
  virtual void poll(double timeout_seconds, const std::function<void(Request, Response)>& on_response) = 0;
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
  // A stream over this backend with `concurrency` slots. The default collects what is submitted
  // and answers it with answer() at the next poll: right for backends that answer at once
  // (random, replay); a backend that waits on a server overrides it to keep its slots busy.
  virtual std::unique_ptr<RequestStream> open_stream(size_t concurrency);
  // Asks the server who it is and, when `want_loglikelihood`, whether it gives prompt
  // log-probabilities (one scoring request); supports_loglikelihood() then answers from what
  // was seen, not from the backend's kind. The record goes into the run's configuration: each
  // endpoint's identity, an `identity` digest of them, and the log-prob verdict with what the
  // server returned. Null for backends without a server.
  virtual nlohmann::json probe(bool want_loglikelihood) {
    (void)want_loglikelihood;
    return nullptr;
  }
  // How many tokens each text is as the server counts them (its /tokenize), so prompts are
  // checked against its context before a run; nullopt when it cannot count (or was not probed).
  virtual std::optional<std::vector<long long>> count_tokens(const std::vector<std::string>& texts) {
    (void)texts;
    return std::nullopt;
  }
  // Whether the backend holds an answer for a sample before anything is asked: a backend that
  // answers from a file (replay) knows which samples the file lacks, so a run can say so at its
  // start. nullopt: this backend cannot tell in advance.
  virtual std::optional<bool> has_answer(const std::string& task, const std::string& sample_id) const {
    (void)task;
    (void)sample_id;
    return std::nullopt;
  }
  // The file a backend answers from, for messages about what it lacks; empty: none.
  virtual std::string answers_file() const { return {}; }
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

// Registry: name -> factory, with the one-line help the command line shows for the kind.
// Unknown names get "did you mean …" (InputError). A kind that `can_judge` false is refused as
// --judge-backend.
using BackendFactory = std::function<std::unique_ptr<Backend>(const BackendOptions&)>;
void register_backend(const std::string& kind, BackendFactory factory, std::string description, bool can_judge = true);
struct BackendKind {
  std::string kind;
  std::string description;  // one line, for help
  bool can_judge = true;
};
// Every registered kind, in the order registered (the built-in ones first).
std::vector<BackendKind> registered_backends();
// Every backend it makes is wrapped by with_dispatch, and the secrets among `options` (header
// values, API keys in the environment) are remembered for redaction (secrets.h).
std::unique_ptr<Backend> make_backend(const BackendOptions& options);
// The wrapper around every backend (backend_dispatch.cc): identical requests of a batch (same
// payload) are sent once and share the reply; every reply is redacted of remembered secrets.
std::unique_ptr<Backend> with_dispatch(std::unique_ptr<Backend> backend);
// The registered kinds' names, sorted.
std::vector<std::string> backend_kinds();

} // namespace keval
