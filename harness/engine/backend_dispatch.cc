// The wrapper make_backend puts around every backend, so every caller (the run, the judge phase,
// `keval pairwise`) gets the same two guarantees without each doing it:
//  - identical requests in one batch, or in flight together in a stream, are sent once and
//    their reply shared (`keval pairwise` used to send 320 requests for 160 distinct prompts);
//  - every reply is redacted of the secrets keval was given before anyone stores or prints it.
#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "secrets.h"

namespace keval {
namespace {

class DispatchBackend final : public Backend {
public:
  explicit DispatchBackend(std::unique_ptr<Backend> inner) : m_inner(std::move(inner)) {}

  std::string kind() const override { return m_inner->kind(); }
  bool supports_loglikelihood(std::string_view task) const override { return m_inner->supports_loglikelihood(task); }
  std::optional<std::string> cache_payload(const Request& r) const override { return m_inner->cache_payload(r); }
  std::optional<bool> has_answer(const std::string& task, const std::string& sample_id) const override {
    return m_inner->has_answer(task, sample_id);
  }
  std::string answers_file() const override { return m_inner->answers_file(); }
  std::optional<std::vector<long long>> count_tokens(const std::vector<std::string>& texts) override {
    return m_inner->count_tokens(texts);
  }
  // What a server says of itself is server text too: redacted before it is recorded.
  nlohmann::json probe(bool want_loglikelihood) override {
    nlohmann::json found = m_inner->probe(want_loglikelihood);
    if (found.is_null()) return found;
    nlohmann::json clean = nlohmann::json::parse(secrets::redact(found.dump()), nullptr, false);
    return clean.is_discarded() ? nlohmann::json({{"identity", ""}, {"redacted", true}}) : clean;
  }

  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    // What identifies a request is what would be sent: its payload. Backends without one
    // (embedded) answer each request on its own.
    std::vector<std::vector<size_t>> copies;  // per distinct request: its indices in `batch`
    std::vector<size_t> distinct;             // per distinct request: its first index
    {
      std::vector<std::string> computed(batch.size());
      std::unordered_map<std::string_view, size_t> seen;  // payload -> position in `distinct`
      for (size_t i = 0; i < batch.size(); ++i) {
        std::string_view payload = batch[i].payload;
        if (payload.empty())
          if (auto p = m_inner->cache_payload(batch[i])) payload = computed[i] = std::move(*p);
        if (!payload.empty()) {
          auto [it, inserted] = seen.emplace(payload, distinct.size());
          if (!inserted) {
            copies[it->second].push_back(i);
            continue;
          }
        }
        distinct.push_back(i);
        copies.push_back({i});
      }
    }
    if (distinct.size() == batch.size()) {
      m_inner->answer(batch, [&](size_t i, Response response) {
        secrets::redact(response);
        on_response(i, std::move(response));
      });
      return;
    }
    std::vector<Request> unique;
    unique.reserve(distinct.size());
    for (size_t i : distinct) unique.push_back(batch[i]);
    m_inner->answer(unique, [&](size_t u, Response response) {
      secrets::redact(response);
      const auto& indices = copies[u];
      for (size_t k = 0; k + 1 < indices.size(); ++k) on_response(indices[k], response);
      on_response(indices.back(), std::move(response));
    });
  }

  std::unique_ptr<RequestStream> open_stream(size_t concurrency) override {
    return std::make_unique<Stream>(*m_inner, m_inner->open_stream(concurrency), std::max<size_t>(concurrency, 1));
  }

private:
  // A request whose payload is already in flight waits for that reply instead of taking a slot;
  // at most `concurrency` wait so, which keeps the requests held bounded however many repeat.
  class Stream final : public RequestStream {
  public:
    Stream(const Backend& inner, std::unique_ptr<RequestStream> stream, size_t concurrency)
        : m_inner(inner), m_stream(std::move(stream)), m_most_copies(concurrency) {}
    size_t free_slots() const override { return m_copies < m_most_copies ? m_stream->free_slots() : 0; }
    size_t in_flight() const override { return m_stream->in_flight() + m_copies; }
    void submit(Request request) override {
      // What identifies a request is what would be sent; backends without a payload
      // (embedded) answer each request on its own.
      if (request.payload.empty())
        if (auto payload = m_inner.cache_payload(request)) request.payload = std::move(*payload);
      if (!request.payload.empty()) {
        auto [it, inserted] = m_waiting.try_emplace(request.payload);
        if (!inserted) {
          it->second.push_back(std::move(request));
          ++m_copies;
          return;
        }
      }
      m_stream->submit(std::move(request));
    }
    void poll(double timeout_seconds, const std::function<void(Request, Response)>& on_response) override {
      m_stream->poll(timeout_seconds, [&](Request request, Response response) {
        secrets::redact(response);
        std::vector<Request> copies;
        if (auto node = m_waiting.extract(request.payload)) {
          copies = std::move(node.mapped());
          m_copies -= copies.size();
        }
        for (auto& copy : copies) on_response(std::move(copy), response);
        on_response(std::move(request), std::move(response));
      });
    }

  private:
    const Backend& m_inner;
    std::unique_ptr<RequestStream> m_stream;
    // Payload in flight -> the requests waiting for its reply (besides the one sent).
    std::unordered_map<std::string, std::vector<Request>> m_waiting;
    size_t m_copies = 0;
    size_t m_most_copies;
  };

  std::unique_ptr<Backend> m_inner;
};

} // namespace

std::unique_ptr<Backend> with_dispatch(std::unique_ptr<Backend> backend) {
  return std::make_unique<DispatchBackend>(std::move(backend));
}

} // namespace keval
