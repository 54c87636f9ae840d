// keval-stream-bench: how close a backend's request stream comes to what a server can give.
// Sends N distinct chat requests to --base-url through Backend::open_stream, a free slot refilled
// at once, and prints the wall time against the ideal: the sum of the requests' latencies spread
// over the slots (samples / (concurrency / mean latency)), and that plus the slowest request (the
// bound a stream can reach when a slow request starts last). For contrast, the same requests in
// batches through Backend::answer (each batch waits for its slowest request).
// Usage: keval-stream-bench --base-url URL [--requests N] [--concurrency C] [--batch B]
// (bench/stream_bench.sh starts a mock server with heavy-tailed latency and runs it.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backend.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  double wall = 0;
  double latency_sum = 0;
  double latency_max = 0;
  size_t failed = 0;
};

keval::Request request(size_t i) {
  keval::Request r;
  r.key = fmt::format("bench/{}/0", i);
  r.prompt = fmt::format("{}번 문제의 답은 무엇인가?\nA. 사과\nB. 배\n답:", i);
  r.messages = {{"user", r.prompt}};
  r.generation.max_tokens = 16;
  return r;
}

void count(Figures& f, const keval::Response& r) {
  if (!r.ok()) ++f.failed;
  f.latency_sum += r.latency_seconds;
  f.latency_max = std::max(f.latency_max, r.latency_seconds);
}

Figures streamed(keval::Backend& backend, size_t n, size_t concurrency) {
  Figures f;
  auto stream = backend.open_stream(concurrency);
  const auto started = Clock::now();
  size_t next = 0, done = 0;
  while (done < n) {
    while (next < n && stream->free_slots() > 0) stream->submit(request(next++));
    stream->poll(1, [&](keval::Request, keval::Response r) {
      ++done;
      count(f, r);
    });
  }
  f.wall = std::chrono::duration<double>(Clock::now() - started).count();
  return f;
}

Figures batched(keval::Backend& backend, size_t n, size_t batch) {
  Figures f;
  const auto started = Clock::now();
  for (size_t from = 0; from < n; from += batch) {
    std::vector<keval::Request> requests;
    for (size_t i = from; i < std::min(n, from + batch); ++i) requests.push_back(request(i));
    backend.answer(requests, [&](size_t, keval::Response r) { count(f, r); });
  }
  f.wall = std::chrono::duration<double>(Clock::now() - started).count();
  return f;
}

void print(const char* how, const Figures& f, size_t concurrency) {
  const double ideal = f.latency_sum / static_cast<double>(concurrency);
  std::printf("%-9s wall %6.2f s   ideal %6.2f s   ideal + slowest %6.2f s   %5.1f%% of ideal + slowest%s\n", how, f.wall,
              ideal, ideal + f.latency_max, 100.0 * (ideal + f.latency_max) / f.wall,
              f.failed ? fmt::format("   ({} failed)", f.failed).c_str() : "");
}

} // namespace

int main(int argc, char** argv) {
  std::string base_url;
  size_t n = 2250, concurrency = 64, batch = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--base-url") base_url = v;
    else if (a == "--requests") n = std::stoul(v);
    else if (a == "--concurrency") concurrency = std::stoul(v);
    else if (a == "--batch") batch = std::stoul(v);
    else {
      std::fprintf(stderr, "keval-stream-bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (base_url.empty() || concurrency == 0) {
    std::fprintf(stderr, "usage: keval-stream-bench --base-url URL [--requests N] [--concurrency C] [--batch B]\n");
    return 2;
  }
  keval::BackendOptions o;
  o.kind = "openai-chat";
  o.model = "bench";
  o.base_urls = {base_url};
  o.concurrency = static_cast<int>(concurrency);
  auto backend = keval::make_backend(o);
  std::printf("%zu requests, concurrency %zu\n", n, concurrency);
  print("stream", streamed(*backend, n, concurrency), concurrency);
  if (batch > 0) print(fmt::format("batch {}", batch).c_str(), batched(*backend, n, batch), concurrency);
  return 0;
}
