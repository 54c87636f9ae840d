#include "backend.h"

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "secrets.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/text.h"

namespace keval {
namespace {

std::map<std::string, BackendFactory>& registry() {
  static std::map<std::string, BackendFactory> factories;
  return factories;
}

// Backend::open_stream's default: what is submitted is answered, all together, at the next poll,
// each response handed on as answer() gives it, so a caller stores it at once (a backend that
// answers slowly, such as an exec program, loses no more to a crash than before streams).
class BatchStream final : public RequestStream {
public:
  BatchStream(Backend& backend, size_t concurrency) : m_backend(backend), m_slots(std::max<size_t>(concurrency, 1)) {}
  size_t free_slots() const override { return m_queued.size() < m_slots ? m_slots - m_queued.size() : 0; }
  size_t in_flight() const override { return m_queued.size(); }
  void submit(Request request) override { m_queued.push_back(std::move(request)); }
  void poll(double, const std::function<void(Request, Response)>& on_response) override {
    std::vector<Request> batch;
    batch.swap(m_queued);
    std::vector<bool> answered(batch.size(), false);
    // A copy of the request goes with its response: the backend may still read the batch. An
    // exception from on_response leaves answer() as a failed request would (the old runner's
    // --max-failures stop did the same).
    m_backend.answer(batch, [&](size_t i, Response r) {
      if (answered[i]) return;
      answered[i] = true;
      on_response(batch[i], std::move(r));
    });
    for (size_t i = 0; i < batch.size(); ++i)
      if (!answered[i]) on_response(std::move(batch[i]), Response::failed(FailureKind::backend, "no response"));
  }

private:
  Backend& m_backend;
  size_t m_slots;
  std::vector<Request> m_queued;
};

} // namespace

std::unique_ptr<RequestStream> Backend::open_stream(size_t concurrency) {
  return std::make_unique<BatchStream>(*this, concurrency);
}

void register_backend(const std::string& kind, BackendFactory factory) {
  auto [it, inserted] = registry().emplace(kind, std::move(factory));
  if (!inserted) throw std::logic_error(fmt::format("backend '{}' registered twice", kind));
}

std::vector<std::string> backend_kinds() {
  std::vector<std::string> kinds;
  for (const auto& [kind, factory] : registry()) kinds.push_back(kind);
  return kinds;
}

// Defined in backends/*.cc; listed here so the registry has one place that names them all.
std::unique_ptr<Backend> make_random_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_replay_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_openai_chat_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_openai_completions_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_exec_backend(const BackendOptions& options);

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  static std::once_flag once;
  std::call_once(once, [] {
    register_backend("random", make_random_backend);
    register_backend("replay", make_replay_backend);
    register_backend("openai-chat", make_openai_chat_backend);
    register_backend("openai-completions", make_openai_completions_backend);
    register_backend("exec", make_exec_backend);
  });
  // The random baseline's text is a span of its prompt: as a judge it would "rate" with the
  // prompt's own example verdict.
  if (options.judge && options.kind == "random")
    throw InputError("--judge-backend random cannot judge; use replay (recorded verdicts), openai-chat, "
                     "openai-completions or exec");
  auto it = registry().find(options.kind);
  if (it == registry().end()) {
    auto kinds = backend_kinds();
    auto near = text::closest(options.kind, kinds);
    throw InputError(fmt::format("unknown backend '{}'{} (available: {})", options.kind,
                                 near.empty() ? "" : fmt::format("; did you mean '{}'?", near.front()),
                                 text::join(kinds, ", ")));
  }
  // Whatever keval was given to authenticate is hidden from every reply from now on.
  secrets::remember_environment();
  for (const auto& h : options.headers) secrets::remember_header(h);
  return with_dispatch(it->second(options));
}

std::string response_cache_key(const BackendOptions& options, const std::string& payload) {
  // Without an identity (a server that reports none and no --model-id) the key is the older one.
  if (options.identity.empty()) return sha256_hex(fmt::format("{}\n{}\n{}", options.kind, options.model, payload));
  return sha256_hex(fmt::format("{}\n{}\n{}\n{}", options.kind, options.model, options.identity, payload));
}

} // namespace keval
