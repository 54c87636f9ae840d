// The dispatch wrapper around every backend: identical requests of a batch reach the backend
// once and every copy gets the reply; requests without a payload (embedded backends) are never
// merged; every reply leaves redacted.
#include <gtest/gtest.h>

#include <map>

#include "backend.h"
#include "secrets.h"

namespace keval {
namespace {

// Answers each request with its prompt, recording what it was asked.
class RecordingBackend final : public Backend {
public:
  explicit RecordingBackend(bool has_payload, std::vector<std::string>& asked) : m_has_payload(has_payload), m_asked(asked) {}
  std::string kind() const override { return "recording"; }
  bool supports_loglikelihood(std::string_view) const override { return false; }
  std::optional<std::string> cache_payload(const Request& r) const override {
    if (!m_has_payload) return std::nullopt;
    return "{\"prompt\": \"" + r.prompt + "\"}";
  }
  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    // Answered in reverse, as a real engine may: the wrapper must map indices back.
    for (size_t i = batch.size(); i-- > 0;) {
      m_asked.push_back(batch[i].prompt);
      Response r;
      r.text = "답: " + batch[i].prompt;
      on_response(i, r);
    }
  }

private:
  bool m_has_payload;
  std::vector<std::string>& m_asked;
};

std::vector<Request> requests(const std::vector<std::string>& prompts) {
  std::vector<Request> out;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Request r;
    r.key = "t/" + std::to_string(i) + "/0";
    r.prompt = prompts[i];
    out.push_back(r);
  }
  return out;
}

TEST(BackendDispatch, IdenticalRequestsAreAskedOnceAndEveryCopyAnswered) {
  std::vector<std::string> asked;
  auto backend = with_dispatch(std::make_unique<RecordingBackend>(true, asked));
  const auto batch = requests({"가", "나", "가", "다", "나", "가"});
  std::map<size_t, std::string> got;
  backend->answer(batch, [&](size_t i, Response r) { EXPECT_TRUE(got.emplace(i, r.text).second) << "twice: " << i; });
  EXPECT_EQ(asked.size(), 3u);
  ASSERT_EQ(got.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(got[i], "답: " + batch[i].prompt) << i;
  // A payload the caller already computed (for the cache key) is what identifies the request.
  asked.clear();
  auto with_payload = requests({"라", "마"});
  with_payload[0].payload = with_payload[1].payload = "same body";
  backend->answer(with_payload, [&](size_t, Response) {});
  EXPECT_EQ(asked.size(), 1u);
}

TEST(BackendDispatch, RequestsWithoutPayloadAreNeverMerged) {
  std::vector<std::string> asked;
  auto backend = with_dispatch(std::make_unique<RecordingBackend>(false, asked));
  const auto batch = requests({"가", "가", "가"});
  size_t answered = 0;
  backend->answer(batch, [&](size_t, Response) { ++answered; });
  EXPECT_EQ(asked.size(), 3u);
  EXPECT_EQ(answered, 3u);
}

TEST(BackendDispatch, RepliesAreRedacted) {
  secrets::forget_all();
  secrets::remember("secret-token-123");
  std::vector<std::string> asked;
  auto backend = with_dispatch(std::make_unique<RecordingBackend>(true, asked));
  const auto batch = requests({"SECRET-TOKEN-123 알려줘", "SECRET-TOKEN-123 알려줘"});
  std::vector<std::string> texts;
  backend->answer(batch, [&](size_t, Response r) { texts.push_back(r.text); });
  secrets::forget_all();
  ASSERT_EQ(texts.size(), 2u);
  for (const auto& t : texts) EXPECT_EQ(t, "답: [REDACTED] 알려줘");
}

// The wrapper's stream: a payload already in flight is not sent again; its copies wait for the
// reply, take no slot, and each gets the (redacted) reply with its own request.
TEST(BackendDispatch, StreamSendsAPayloadInFlightOnce) {
  secrets::forget_all();
  secrets::remember("secret-token-123");
  std::vector<std::string> asked;
  auto backend = with_dispatch(std::make_unique<RecordingBackend>(true, asked));
  auto stream = backend->open_stream(4);
  for (auto& r : requests({"가 secret-token-123", "나", "가 secret-token-123"})) stream->submit(std::move(r));
  EXPECT_EQ(stream->in_flight(), 3u);
  EXPECT_EQ(stream->free_slots(), 2u);  // the copy takes no slot
  std::map<std::string, std::string> got;  // key -> text
  stream->poll(1, [&](Request q, Response r) { EXPECT_TRUE(got.emplace(q.key, r.text).second) << "twice: " << q.key; });
  secrets::forget_all();
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(stream->in_flight(), 0u);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got["t/0/0"], "답: 가 [REDACTED]");
  EXPECT_EQ(got["t/2/0"], "답: 가 [REDACTED]");
  EXPECT_EQ(got["t/1/0"], "답: 나");
  // Answered, the payload is no longer in flight: asked again.
  stream->submit(requests({"나"})[0]);
  stream->poll(1, [](Request, Response) {});
  EXPECT_EQ(asked.size(), 3u);
}

TEST(BackendDispatch, StreamHoldsBoundedCopies) {
  // However often a payload repeats, at most `concurrency` copies wait: then no slot is free.
  std::vector<std::string> asked;
  auto backend = with_dispatch(std::make_unique<RecordingBackend>(true, asked));
  auto stream = backend->open_stream(2);
  stream->submit(requests({"가"})[0]);
  EXPECT_EQ(stream->free_slots(), 1u);
  stream->submit(requests({"가"})[0]);
  EXPECT_EQ(stream->free_slots(), 1u);  // the copy took no slot
  stream->submit(requests({"가"})[0]);
  EXPECT_EQ(stream->free_slots(), 0u);  // two copies wait: enough held
  EXPECT_EQ(stream->in_flight(), 3u);
  size_t answered = 0;
  stream->poll(1, [&](Request, Response) { ++answered; });
  EXPECT_EQ(answered, 3u);
  EXPECT_EQ(asked.size(), 1u);
  EXPECT_EQ(stream->free_slots(), 2u);
}

TEST(BackendDispatch, StreamNeverMergesRequestsWithoutPayload) {
  std::vector<std::string> asked;
  auto backend = with_dispatch(std::make_unique<RecordingBackend>(false, asked));
  auto stream = backend->open_stream(8);
  for (auto& r : requests({"가", "가", "가"})) stream->submit(std::move(r));
  EXPECT_EQ(stream->free_slots(), 5u);
  size_t answered = 0;
  stream->poll(1, [&](Request, Response) { ++answered; });
  EXPECT_EQ(asked.size(), 3u);
  EXPECT_EQ(answered, 3u);
}

} // namespace
} // namespace keval
