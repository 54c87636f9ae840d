// `random`: the embedded baseline. Every answer is a pure function of (seed, request key), so a
// run gives the same answers whatever the order, batch size or concurrency.
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "backend.h"
#include "text.h"

namespace keval {
namespace {

unsigned long long fnv1a(std::string_view s) {
  unsigned long long h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

class RandomBackend final : public Backend {
public:
  explicit RandomBackend(unsigned long long seed) : m_seed(seed) {}
  std::string kind() const override { return "random"; }
  bool supports_loglikelihood(std::string_view) const override { return true; }

  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    for (size_t i = 0; i < batch.size(); ++i) on_response(i, answer_one(batch[i]));
  }

private:
  Response answer_one(const Request& r) const {
    std::mt19937_64 rng(m_seed ^ fnv1a(r.key));
    Response out;
    if (r.kind == RequestKind::loglikelihood) {
      std::uniform_real_distribution<double> logprob(-10.0, -0.1);
      for (size_t i = 0; i < r.continuations.size(); ++i) out.logprobs.push_back(logprob(rng));
      return out;
    }
    const Sample* s = r.sample;
    if (s && !s->choice_labels.empty()) {
      // A uniform choice, answered with its label.
      std::uniform_int_distribution<size_t> pick(0, s->choice_labels.size() - 1);
      out.text = s->choice_labels[pick(rng)];
    } else if (s && s->gold_number) {
      // Numeric tasks (STS): a uniform score in the usual 0–5 range.
      std::uniform_real_distribution<double> score(0.0, 5.0);
      out.text = fmt::format("{:.1f}", score(rng));
    } else {
      // Free text: a short span picked from the sample's context (or its prompt).
      std::string source;
      if (s && s->fields.is_object() && s->fields.contains("context") && s->fields["context"].is_string())
        source = s->fields["context"].get<std::string>();
      else if (s && !s->turns.empty())
        source = s->turns[static_cast<size_t>(r.turn) < s->turns.size() ? static_cast<size_t>(r.turn) : 0];
      else
        source = r.prompt;
      auto words = text::split_whitespace(source);
      if (words.empty()) return out;
      std::uniform_int_distribution<size_t> start(0, words.size() - 1);
      std::uniform_int_distribution<size_t> length(1, 3);
      size_t from = start(rng), n = length(rng);
      std::vector<std::string> span(words.begin() + static_cast<long>(from),
                                    words.begin() + static_cast<long>(std::min(words.size(), from + n)));
      out.text = text::join(span, " ");
    }
    return out;
  }

  unsigned long long m_seed;
};

} // namespace

std::unique_ptr<Backend> make_random_backend(const BackendOptions& options) {
  return std::make_unique<RandomBackend>(options.seed);
}

} // namespace keval
