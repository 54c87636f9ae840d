#include "backend.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "secrets.h"
#include "error.h"
#include "sha256.h"
#include "text.h"

namespace keval {

// Defined in backends/*.cc; listed here so the registry has one place that names them all.
std::unique_ptr<Backend> make_random_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_replay_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_openai_chat_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_openai_completions_backend(const BackendOptions& options);
std::unique_ptr<Backend> make_exec_backend(const BackendOptions& options);

namespace {

struct Registered {
  BackendKind kind;
  BackendFactory factory;
};

// In registration order: help lists the built-in kinds as they are introduced, not sorted.
std::vector<Registered>& registry() {
  static std::vector<Registered> backends;
  return backends;
}

const Registered* find_registered(const std::string& kind) {
  for (const auto& r : registry())
    if (r.kind.kind == kind) return &r;
  return nullptr;
}

void add_backend(const std::string& kind, BackendFactory factory, std::string description, bool can_judge = true) {
  if (find_registered(kind)) throw std::logic_error(fmt::format("backend '{}' registered twice", kind));
  registry().push_back({BackendKind{kind, std::move(description), can_judge}, std::move(factory)});
}

void register_built_in_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The random baseline's text is a span of its prompt: as a judge it would "rate" with the
    // prompt's own example verdict.
    add_backend("random", make_random_backend,
                "embedded baseline: a seeded choice, or a seeded span of the prompt; no network", false);
    add_backend("replay", make_replay_backend, "answers from recorded responses (JSON lines); no network");
    add_backend("openai-chat", make_openai_chat_backend,
                "POST {base-url}/chat/completions (vLLM, llama.cpp, Ollama, TGI, SGLang, hosted APIs)");
    add_backend("openai-completions", make_openai_completions_backend,
                "POST {base-url}/completions; log-likelihood via echo + logprobs, or SGLang's and TGI's /generate");
    add_backend("exec", make_exec_backend, "a local program keval starts and talks to in JSON lines");
  });
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

void register_backend(const std::string& kind, BackendFactory factory, std::string description, bool can_judge) {
  register_built_in_backends();  // the built-in kinds come first, whoever registers first
  add_backend(kind, std::move(factory), std::move(description), can_judge);
}

std::vector<BackendKind> registered_backends() {
  register_built_in_backends();
  std::vector<BackendKind> kinds;
  for (const auto& r : registry()) kinds.push_back(r.kind);
  return kinds;
}

std::vector<std::string> backend_kinds() {
  register_built_in_backends();
  std::vector<std::string> kinds;
  for (const auto& r : registry()) kinds.push_back(r.kind.kind);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  register_built_in_backends();
  const Registered* found = find_registered(options.kind);
  if (!found) {
    auto kinds = backend_kinds();
    auto near = text::closest(options.kind, kinds);
    throw InputError(fmt::format("unknown backend '{}'{} (available: {})", options.kind,
                                 near.empty() ? "" : fmt::format("; did you mean '{}'?", near.front()),
                                 text::join(kinds, ", ")));
  }
  if (options.judge && !found->kind.can_judge) {
    std::vector<std::string> judges;
    for (const auto& r : registry())
      if (r.kind.can_judge) judges.push_back(r.kind.kind);
    const std::string last = judges.empty() ? "" : judges.back();
    if (!judges.empty()) judges.pop_back();
    throw InputError(fmt::format("--judge-backend {} cannot judge; use {}{}{}", options.kind, text::join(judges, ", "),
                                 judges.empty() ? "" : " or ", last));
  }
  // Whatever keval was given to authenticate is hidden from every reply from now on.
  secrets::remember_environment();
  for (const auto& h : options.headers) secrets::remember_header(h);
  return with_dispatch(found->factory(options));
}

std::string response_cache_key(const BackendOptions& options, const std::string& payload) {
  // Without an identity (a server that reports none and no --model-id) the key is the older one.
  if (options.identity.empty()) return sha256_hex(fmt::format("{}\n{}\n{}", options.kind, options.model, payload));
  return sha256_hex(fmt::format("{}\n{}\n{}\n{}", options.kind, options.model, options.identity, payload));
}

} // namespace keval
