// Request streams against a real server (the mock on 127.0.0.1): a freed slot is refilled while
// a slow request is still in flight; identical payloads in flight are sent once; a 429 lowers the
// free slots; every HTTP response carries its latency; the retry policy (a 200 that cannot be
// parsed asked twice at most, 400 once, 409 retried) counted on the server's own request counter.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "backend.h"
#include "http/mock.h"
#include "http_engine.h"

namespace keval {
namespace {

using testing::MockServer;
using Clock = std::chrono::steady_clock;

BackendOptions chat_options(const MockServer& mock, int concurrency) {
  BackendOptions o;
  o.kind = "openai-chat";
  o.model = "mock-model";
  o.base_urls = {mock.url()};
  o.concurrency = concurrency;
  o.timeout = 30;
  o.max_retries = 2;
  return o;
}

Request chat_request(const std::string& key, const std::string& text) {
  Request r;
  r.key = key;
  r.messages = {{"user", text}};
  r.prompt = text;
  r.generation.max_tokens = 16;
  return r;
}

// Polls until nothing is in flight, handing back what arrives in order.
std::vector<std::pair<Request, Response>> drain(RequestStream& stream, double limit_seconds = 30) {
  std::vector<std::pair<Request, Response>> out;
  const auto until = Clock::now() + std::chrono::duration<double>(limit_seconds);
  while (stream.in_flight() > 0 && Clock::now() < until)
    stream.poll(0.5, [&](Request q, Response r) { out.emplace_back(std::move(q), std::move(r)); });
  return out;
}

long long total_requests(const MockServer& mock) { return mock.stats().value("total", -1LL); }

TEST(Stream, FreedSlotIsRefilledWhileASlowRequestIsInFlight) {
  MockServer mock("--latency-ms 20 --slow-when 느린질문 --slow-ms 1000");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 4));
  auto stream = backend->open_stream(4);
  EXPECT_EQ(stream->free_slots(), 4u);
  std::vector<Request> todo;
  todo.push_back(chat_request("t/slow/0", "느린질문 하나"));
  for (int i = 0; i < 40; ++i) todo.push_back(chat_request("t/" + std::to_string(i) + "/0", "빠른질문 " + std::to_string(i)));
  std::vector<std::string> finished;  // keys in the order their responses arrived
  size_t next = 0;
  const auto started = Clock::now();
  double slow_done_at = -1;
  while (finished.size() < todo.size()) {
    // Every free slot is taken at once, as a run does.
    while (next < todo.size() && stream->free_slots() > 0) stream->submit(todo[next++]);
    ASSERT_LE(stream->in_flight(), 4u);
    stream->poll(5, [&](Request q, Response r) {
      EXPECT_TRUE(r.ok()) << q.key << ": " << r.message;
      if (q.key == "t/slow/0") slow_done_at = std::chrono::duration<double>(Clock::now() - started).count();
      finished.push_back(q.key);
    });
    ASSERT_LT(std::chrono::duration<double>(Clock::now() - started).count(), 30) << "the stream stalled";
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  // The slow request started first and ended last: the 40 fast ones went through the other three
  // slots meanwhile. Run in batches of four, the first batch alone would have waited for it.
  EXPECT_EQ(finished.back(), "t/slow/0");
  EXPECT_GE(slow_done_at, 0.9);
  EXPECT_LT(elapsed, 1.0 + 40 / 4 * 0.020 + 1.0) << "more than the slow request plus the fast ones in 4 slots";
  EXPECT_EQ(total_requests(mock), 41);
}

TEST(Stream, IdenticalPayloadsInFlightAreSentOnce) {
  MockServer mock("--latency-ms 200");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 8));
  auto stream = backend->open_stream(8);
  stream->submit(chat_request("a/1/0", "같은 질문"));
  stream->submit(chat_request("b/1/0", "같은 질문"));
  stream->submit(chat_request("c/1/0", "같은 질문"));
  stream->submit(chat_request("d/1/0", "다른 질문"));
  // The copies wait for the first one's reply: they take no slot but are in flight.
  EXPECT_EQ(stream->in_flight(), 4u);
  EXPECT_EQ(stream->free_slots(), 6u);
  auto got = drain(*stream);
  ASSERT_EQ(got.size(), 4u);
  std::map<std::string, std::string> text;
  for (const auto& [q, r] : got) {
    EXPECT_TRUE(r.ok()) << r.message;
    text[q.key] = r.text;
  }
  EXPECT_EQ(text.size(), 4u);
  EXPECT_EQ(text["a/1/0"], text["b/1/0"]);
  EXPECT_EQ(text["a/1/0"], text["c/1/0"]);
  EXPECT_EQ(total_requests(mock), 2);
  EXPECT_EQ(stream->in_flight(), 0u);
  // Once answered, the same payload is sent again (the cache, not the stream, remembers answers).
  stream->submit(chat_request("e/1/0", "같은 질문"));
  EXPECT_EQ(drain(*stream).size(), 1u);
  EXPECT_EQ(total_requests(mock), 3);
}

TEST(Stream, RepliesAreRedactedInTheStream) {
  // The mock echoes the request's headers back as the answer on its 4th request (n % 6 == 3).
  MockServer mock("--echo-headers");
  ASSERT_GT(mock.port(), 0);
  BackendOptions o = chat_options(mock, 1);
  o.max_retries = 0;
  o.headers = {"X-Stream-Secret: stream-secret-value-42"};
  auto backend = make_backend(o);
  auto stream = backend->open_stream(1);
  bool saw_answer = false;
  for (int i = 0; i < 6; ++i) {
    stream->submit(chat_request("t/" + std::to_string(i) + "/0", "질문 " + std::to_string(i)));
    for (const auto& [q, r] : drain(*stream)) {
      EXPECT_EQ(r.text.find("stream-secret-value-42"), std::string::npos) << r.text;
      EXPECT_EQ(r.message.find("stream-secret-value-42"), std::string::npos) << r.message;
      if (r.ok() && r.text.find("X-Stream-Secret") != std::string::npos) saw_answer = true;
    }
  }
  EXPECT_TRUE(saw_answer) << "no reply quoted the header: the test proves nothing";
}

TEST(Stream, ThrottlingLowersFreeSlots) {
  // Every body's first attempt is refused with 429 (Retry-After: 0); its retry succeeds.
  MockServer mock("--p429 1 --fault-attempts 1 --retry-after 0");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 8));
  auto stream = backend->open_stream(8);
  for (int i = 0; i < 8; ++i) stream->submit(chat_request("t/" + std::to_string(i) + "/0", "질문 " + std::to_string(i)));
  EXPECT_EQ(stream->free_slots(), 0u);
  auto got = drain(*stream);
  ASSERT_EQ(got.size(), 8u);
  for (const auto& [q, r] : got) EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(total_requests(mock), 16);
  // Halved once for the burst of 429s, then one back per window of successes: fewer than 8.
  EXPECT_LT(stream->free_slots(), 8u);
  EXPECT_GE(stream->free_slots(), 4u);
}

TEST(Stream, LatencyIsMeasuredForEveryResponse) {
  MockServer mock("--latency-ms 150");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 4));
  auto stream = backend->open_stream(4);
  const auto started = Clock::now();
  for (int i = 0; i < 4; ++i) stream->submit(chat_request("t/" + std::to_string(i) + "/0", "지연 " + std::to_string(i)));
  auto got = drain(*stream);
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  ASSERT_EQ(got.size(), 4u);
  for (const auto& [q, r] : got) {
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_GE(r.latency_seconds, 0.15) << q.key;
    EXPECT_LE(r.latency_seconds, wall) << q.key;
  }
  // A failure is timed too (first attempt to the last one's last byte, backoffs included).
  MockServer refusing("--always-status 400");
  auto refused = make_backend(chat_options(refusing, 1));
  auto failing = refused->open_stream(1);
  failing->submit(chat_request("t/x/0", "거절"));
  auto failed = drain(*failing);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].second.ok());
  EXPECT_GT(failed[0].second.latency_seconds, 0);
}

TEST(Stream, ManySlotsAtOnce) {
  // 256 slots against a server with 300 threads: all are served together, not in waves.
  MockServer mock("--latency-ms 1000 --threads 300");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 256));
  auto stream = backend->open_stream(256);
  for (int i = 0; i < 256; ++i) stream->submit(chat_request("t/" + std::to_string(i) + "/0", "동시 " + std::to_string(i)));
  EXPECT_EQ(stream->free_slots(), 0u);
  auto got = drain(*stream);
  ASSERT_EQ(got.size(), 256u);
  for (const auto& [q, r] : got) EXPECT_TRUE(r.ok()) << r.message;
  // The last request reached the server before the first one was answered.
  const auto stats = mock.stats();
  EXPECT_EQ(stats.value("total", -1LL), 256);
  EXPECT_LT(stats.value("last_request_s", 99.0) - stats.value("first_request_s", 0.0), 1.0)
      << "the requests were not all in flight together";
}

TEST(Stream, MockSlowShareIsAFixedShareOfBodies) {
  // --slow-share picks bodies by a hash: about the share of them, the same ones every time.
  MockServer mock("--slow-share 0.5 --slow-ms 1000 --threads 64");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 40));
  std::vector<std::set<std::string>> slow(2);
  for (int round = 0; round < 2; ++round) {
    auto stream = backend->open_stream(40);
    for (int i = 0; i < 40; ++i) stream->submit(chat_request("t/" + std::to_string(i) + "/0", "꼬리 " + std::to_string(i)));
    for (const auto& [q, r] : drain(*stream)) {
      EXPECT_TRUE(r.ok()) << r.message;
      if (r.latency_seconds >= 0.95) slow[static_cast<size_t>(round)].insert(q.key);
      else EXPECT_LT(r.latency_seconds, 0.8) << q.key;
    }
  }
  EXPECT_GE(slow[0].size(), 8u);
  EXPECT_LE(slow[0].size(), 32u);
  EXPECT_EQ(slow[0], slow[1]);
}

// The retry policy, on the engine itself (short backoff), counted by the server.
struct Counted {
  long long requests = 0;
  Response response;
};

Counted one_call(const std::string& flags) {
  MockServer mock(flags);
  HttpEngineOptions o;
  o.base_urls = {mock.url()};
  o.concurrency = 2;
  o.max_retries = 4;
  o.backoff_base = 0.01;
  o.backoff_max = 0.05;
  HttpEngine engine(o, "");
  Counted out;
  int delivered = 0;
  engine.submit(7, {"/chat/completions", R"({"model": "m", "messages": [{"role": "user", "content": "재시도"}]})"},
                [](size_t, const std::string& body) {
                  auto j = nlohmann::json::parse(body, nullptr, false);
                  if (j.is_discarded()) return Response::failed(FailureKind::malformed, "not JSON");
                  Response r;
                  r.text = j["choices"][0]["message"]["content"].get<std::string>();
                  return r;
                });
  EXPECT_EQ(engine.pending(), 1u);
  const auto until = Clock::now() + std::chrono::seconds(20);
  while (engine.pending() > 0 && Clock::now() < until)
    engine.poll(1, [&](size_t tag, Response r) {
      EXPECT_EQ(tag, 7u);
      ++delivered;
      out.response = std::move(r);
    });
  EXPECT_EQ(delivered, 1);
  out.requests = mock.stats().value("total", -1LL);
  return out;
}

TEST(Stream, RetryPolicyFitsTheFailure) {
  // A 200 that cannot be parsed: asked once more, then failed as malformed.
  Counted malformed = one_call("--pmalformed 1 --fault-attempts 100");
  EXPECT_EQ(malformed.requests, 2);
  EXPECT_EQ(malformed.response.failure, FailureKind::malformed);
  // ... and a transient one heals on the second ask.
  Counted healed = one_call("--pmalformed 1 --fault-attempts 1");
  EXPECT_EQ(healed.requests, 2);
  EXPECT_TRUE(healed.response.ok()) << healed.response.message;
  // 400 is the caller's mistake: never retried.
  Counted bad = one_call("--always-status 400");
  EXPECT_EQ(bad.requests, 1);
  EXPECT_EQ(bad.response.http_status, 400);
  // 409 (a conflict the server may resolve) and 503 are retried up to --max-retries.
  Counted conflict = one_call("--always-status 409");
  EXPECT_EQ(conflict.requests, 5);
  EXPECT_EQ(conflict.response.http_status, 409);
  Counted unavailable = one_call("--always-status 503");
  EXPECT_EQ(unavailable.requests, 5);
  EXPECT_NE(unavailable.response.message.find("after 5 attempts"), std::string::npos) << unavailable.response.message;
}

// An exec program that answers each request on a thread of its own, in the order they finish:
// a request holding 느린 takes a second, the others 20 ms.
constexpr const char* k_threaded_program = R"(import json, sys, threading, time
lock = threading.Lock()
def answer(req):
    text = req["messages"][-1]["content"]
    time.sleep(1.0 if "느린" in text else 0.02)
    with lock:
        print(json.dumps({"id": req["id"], "text": "답 " + text}, ensure_ascii=False), flush=True)
for line in sys.stdin:
    threading.Thread(target=answer, args=(json.loads(line),)).start()
)";

TEST(Stream, ExecStreamRefillsSlotsWhileASlowRequestIsWithTheProgram) {
  testing::ScratchDir dir;
  testing::write_file(dir.path() / "threaded.py", k_threaded_program);
  BackendOptions o;
  o.kind = "exec";
  o.command = "python3 " + testing::shell_quote(dir / "threaded.py");
  o.concurrency = 4;
  o.timeout = 30;
  auto backend = make_backend(o);
  auto stream = backend->open_stream(4);
  std::vector<Request> todo;
  todo.push_back(chat_request("t/slow/0", "느린 질문"));
  for (int i = 0; i < 20; ++i) todo.push_back(chat_request("t/" + std::to_string(i) + "/0", "빠른 질문 " + std::to_string(i)));
  std::vector<std::string> finished;
  size_t next = 0;
  const auto started = Clock::now();
  while (finished.size() < todo.size() && Clock::now() - started < std::chrono::seconds(30)) {
    while (next < todo.size() && stream->free_slots() > 0) stream->submit(todo[next++]);
    ASSERT_LE(stream->in_flight(), 4u);
    stream->poll(5, [&](Request q, Response r) {
      EXPECT_TRUE(r.ok()) << r.message;
      EXPECT_EQ(r.text, "답 " + q.messages.back().content);
      EXPECT_GT(r.latency_seconds, 0.0);
      finished.push_back(q.key);
    });
  }
  ASSERT_EQ(finished.size(), todo.size());
  EXPECT_EQ(finished.back(), "t/slow/0");
}

TEST(Stream, ExecStreamStartsTheProgramAgainAfterItDied) {
  testing::ScratchDir dir;
  BackendOptions o;
  o.kind = "exec";
  // Exits with status 3 after its second reply, the first time it runs.
  o.command = "python3 " + testing::shell_quote(testing::source_dir() + "/tests/exec_model.py") + " --crash-after 2 --crash-flag " +
              testing::shell_quote(dir / "crashed");
  o.concurrency = 1;
  o.timeout = 30;
  auto backend = make_backend(o);
  auto stream = backend->open_stream(1);
  std::vector<Response> got;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(stream->free_slots(), 1u);
    stream->submit(chat_request("t/" + std::to_string(i) + "/0", "질문 " + std::to_string(i)));
    for (auto& [q, r] : drain(*stream)) got.push_back(std::move(r));
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[0].ok()) << got[0].message;
  EXPECT_TRUE(got[1].ok()) << got[1].message;
  // Owed when it died: failed, naming the program and how it ended.
  EXPECT_EQ(got[2].failure, FailureKind::backend);
  EXPECT_NE(got[2].message.find("exit status 3"), std::string::npos) << got[2].message;
  // The next request starts it again.
  EXPECT_TRUE(got[3].ok()) << got[3].message;
}

TEST(Stream, ARequestMaySubmitTheNextFromItsResponse) {
  // A dialogue's next turn is submitted from its previous turn's response, inside poll().
  MockServer mock("--latency-ms 5");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 2));
  auto stream = backend->open_stream(2);
  std::vector<std::string> order;
  stream->submit(chat_request("d/0/0", "대화 0"));
  stream->submit(chat_request("e/0/0", "대화 첫 질문"));
  std::function<void(Request, Response)> on_response = [&](Request q, Response r) {
    EXPECT_TRUE(r.ok()) << r.message;
    order.push_back(q.key);
    if (q.key.rfind("d/", 0) == 0 && q.turn < 9) {
      Request next = chat_request("d/0/" + std::to_string(q.turn + 1), "대화 " + std::to_string(q.turn + 1));
      next.turn = q.turn + 1;
      stream->submit(std::move(next));
    }
  };
  const auto until = Clock::now() + std::chrono::seconds(20);
  while (stream->in_flight() > 0 && Clock::now() < until) stream->poll(1, on_response);
  ASSERT_EQ(order.size(), 11u);
  std::vector<std::string> turns;
  for (const auto& k : order)
    if (k.rfind("d/", 0) == 0) turns.push_back(k);
  ASSERT_EQ(turns.size(), 10u);
  for (int t = 0; t < 10; ++t) EXPECT_EQ(turns[static_cast<size_t>(t)], "d/0/" + std::to_string(t));
  EXPECT_EQ(total_requests(mock), 11);
}

TEST(Stream, AStreamEndedWithRequestsInFlightLeavesTheBackendUsable) {
  // HTTP: the transfers in flight are abandoned with the stream; a new stream works.
  MockServer mock("--slow-when 느린 --slow-ms 1000");
  ASSERT_GT(mock.port(), 0);
  auto backend = make_backend(chat_options(mock, 4));
  {
    auto stream = backend->open_stream(4);
    for (int i = 0; i < 4; ++i) stream->submit(chat_request("t/" + std::to_string(i) + "/0", "느린 " + std::to_string(i)));
    stream->poll(0.05, [](Request, Response) { ADD_FAILURE() << "nothing can have finished yet"; });
    EXPECT_EQ(stream->in_flight(), 4u);
  }
  auto stream = backend->open_stream(4);
  stream->submit(chat_request("t/fast/0", "빠른"));
  auto got = drain(*stream);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].second.ok()) << got[0].second.message;
}

TEST(Stream, ExecRepliesOwedToAnEndedStreamAreDropped) {
  testing::ScratchDir dir;
  testing::write_file(dir.path() / "threaded.py", k_threaded_program);
  BackendOptions o;
  o.kind = "exec";
  o.command = "python3 " + testing::shell_quote(dir / "threaded.py");
  o.concurrency = 4;
  o.timeout = 30;
  auto backend = make_backend(o);
  {
    auto first = backend->open_stream(4);
    first->submit(chat_request("t/old/0", "느린 옛 질문"));
    first->poll(0.05, [](Request, Response) { ADD_FAILURE() << "nothing can have finished yet"; });
    // Another user of the same program meanwhile (a batch) gets its own replies only.
    std::vector<Request> batch = {chat_request("t/batch/0", "빠른 묶음 질문")};
    std::vector<Response> answered;
    backend->answer(batch, [&](size_t, Response r) { answered.push_back(std::move(r)); });
    ASSERT_EQ(answered.size(), 1u);
    EXPECT_EQ(answered[0].text, "답 빠른 묶음 질문");
    EXPECT_EQ(first->in_flight(), 1u);
  }
  // The old reply arrives while this stream waits for its own slow one: dropped, not taken for
  // a broken program.
  auto second = backend->open_stream(4);
  second->submit(chat_request("t/new/0", "느린 새 질문"));
  auto got = drain(*second);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first.key, "t/new/0");
  EXPECT_TRUE(got[0].second.ok()) << got[0].second.message;
  EXPECT_EQ(got[0].second.text, "답 느린 새 질문");
}

TEST(Stream, PollWithNothingInFlightReturnsAtOnce) {
  MockServer mock;
  auto backend = make_backend(chat_options(mock, 2));
  auto stream = backend->open_stream(2);
  const auto started = Clock::now();
  stream->poll(5, [](Request, Response) { ADD_FAILURE() << "nothing was submitted"; });
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - started).count(), 1.0);
}

} // namespace
} // namespace keval
