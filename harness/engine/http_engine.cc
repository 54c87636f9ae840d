#include "http_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include <curl/curl.h>
#include <fmt/format.h>

#include "secrets.h"
#include "text.h"

namespace keval {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double k_longest_retry_after = 300; // seconds: a server asking for longer is not waited for
constexpr size_t k_excerpt = 300;              // bytes of a failing body quoted in the message
constexpr size_t k_error_head = 4096;          // bytes of an error body kept (redacted, then quoted)

std::string excerpt(const std::string& body) {
  std::string out = body.substr(0, k_excerpt);
  if (body.size() > k_excerpt) out += "…";
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

} // namespace

std::optional<double> parse_retry_after(const std::string& value, long long now_epoch_seconds) {
  std::string v(text::trim(value));
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    try {
      return std::stod(v);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(0.0, static_cast<double>(when - now_epoch_seconds));
}

bool retryable_status(long status) { return status == 408 || status == 409 || status == 429 || status >= 500; }

struct HttpEngine::Impl {
  // A call from submit() to its response, over all its attempts.
  struct Call {
    size_t tag = 0;
    HttpCall owned;                    // submit()'s copy; run() borrows the caller's instead
    const HttpCall* http = nullptr;    // what is sent
    ParseBody parse;
    unsigned long long sequence = 0;   // spreads calls (and a call's retries) over the replicas
    int attempt = 0;                   // of the transfer in flight, or of the next one
    bool malformed_retried = false;    // a 2xx body that could not be parsed is asked once more only
    bool started = false;
    Clock::time_point first_start{};   // the first attempt's start: latency counts from here
  };
  // One attempt of one call.
  struct Transfer {
    CURL* easy = nullptr;
    unsigned long long call = 0;
    std::string body;
    std::string retry_after;
    std::string retry_after_ms;
    char error[CURL_ERROR_SIZE] = {};
    size_t max_body = 0;      // bytes of body accepted before the request fails as too_large
    size_t received = 0;      // body bytes the server sent
    bool too_large = false;   // stopped at max_body
    bool error_cut = false;   // an error reply, stopped once its head was kept
  };
  struct Waiting {
    Clock::time_point ready;
    unsigned long long call;
    bool operator>(const Waiting& o) const { return ready > o.ready; }
  };

  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  std::vector<CURL*> idle;                  // easy handles kept for reuse
  std::vector<std::unique_ptr<Transfer>> active;
  std::unordered_map<unsigned long long, Call> calls;  // pending, by id (nodes never move)
  std::deque<unsigned long long> fresh;     // submitted, never started
  std::priority_queue<Waiting, std::vector<Waiting>, std::greater<>> waiting;  // between attempts
  unsigned long long next_id = 0;
  double window = 1;                        // the effective concurrency (AIMD)
  Clock::time_point last_halving{};
  Clock::time_point next_slot = Clock::now();  // --rps pacing
  std::mt19937_64 rng{std::random_device{}()};

  ~Impl() {
    drop_active();
    for (CURL* e : idle) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
  }

  void drop_active() {
    for (auto& t : active) {
      curl_multi_remove_handle(multi, t->easy);
      curl_easy_cleanup(t->easy);
    }
    active.clear();
  }

  // Returning less than given stops the transfer (CURLE_WRITE_ERROR); the flags say why.
  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    t->received += bytes;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300 || (status > 0 && status < 200)) {
      // An error reply is quoted, never parsed: its head is enough, however long it runs.
      t->body.append(data, std::min(bytes, k_error_head - std::min(k_error_head, t->body.size())));
      if (t->body.size() < k_error_head) return bytes;
      t->error_cut = true;
      return 0;
    }
    if (t->received == bytes) {
      // The first bytes: a declared length past the cap fails now; one under it is reserved,
      // so the body never holds two copies while it grows.
      curl_off_t declared = -1;
      curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
      if (declared > 0 && static_cast<unsigned long long>(declared) > t->max_body) t->received = t->max_body + 1;
      else if (declared > 0) t->body.reserve(static_cast<size_t>(declared));
    }
    if (t->received > t->max_body) {
      t->too_large = true;
      std::string().swap(t->body);  // free it now, not when the transfer ends
      return 0;
    }
    t->body.append(data, bytes);
    return bytes;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = lower(std::string(line.substr(0, colon)));
      std::string value(text::trim(line.substr(colon + 1)));
      if (name == "retry-after") t->retry_after = value;
      else if (name == "retry-after-ms") t->retry_after_ms = value;
    }
    return size * n;
  }
};

HttpEngine::HttpEngine(HttpEngineOptions options, const std::string& bearer_token)
    : m_options(std::move(options)), m_impl(std::make_unique<Impl>()) {
  global_init();
  if (m_options.base_urls.empty()) throw std::logic_error("HttpEngine needs a base URL");
  for (auto& url : m_options.base_urls)
    while (!url.empty() && url.back() == '/') url.pop_back();
  m_options.concurrency = std::max(1, m_options.concurrency);
  m_impl->window = m_options.concurrency;
  m_impl->multi = curl_multi_init();
  // Keep an idle connection for every request that may be in flight, so none is reopened.
  curl_multi_setopt(m_impl->multi, CURLMOPT_MAXCONNECTS, static_cast<long>(m_options.concurrency) * 2);
  m_impl->headers = curl_slist_append(m_impl->headers, "Content-Type: application/json");
  m_impl->headers = curl_slist_append(m_impl->headers, "Expect:"); // no 100-continue round trip on big bodies
  if (!bearer_token.empty())
    m_impl->headers = curl_slist_append(m_impl->headers, ("Authorization: Bearer " + bearer_token).c_str());
  for (const auto& h : m_options.headers) m_impl->headers = curl_slist_append(m_impl->headers, h.c_str());
}

HttpEngine::~HttpEngine() = default;

void HttpEngine::submit(size_t tag, HttpCall call, ParseBody parse) {
  Impl& im = *m_impl;
  const unsigned long long id = im.next_id++;
  Impl::Call& c = im.calls[id];
  c.tag = tag;
  c.owned = std::move(call);
  c.http = &c.owned;
  c.parse = std::move(parse);
  c.sequence = id;
  im.fresh.push_back(id);
}

size_t HttpEngine::pending() const { return m_impl->calls.size(); }

size_t HttpEngine::concurrency() const { return static_cast<size_t>(std::max(1.0, std::floor(m_impl->window))); }

size_t HttpEngine::free_slots() const {
  const size_t limit = concurrency(), used = pending();
  return used < limit ? limit - used : 0;
}

void HttpEngine::cancel_all() {
  Impl& im = *m_impl;
  // Abandoned transfers' handles are closed, not reused: a half-read connection is not kept.
  im.drop_active();
  im.fresh.clear();
  im.waiting = {};
  im.calls.clear();
}

void HttpEngine::poll(double timeout_seconds, const OnHttpDone& on_done) {
  Impl& im = *m_impl;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(std::max(0.0, timeout_seconds)));
  bool delivered = false;

  auto base_of = [&](const Impl::Call& c) -> const std::string& {
    return m_options.base_urls[(c.sequence + static_cast<unsigned long long>(c.attempt)) % m_options.base_urls.size()];
  };

  auto start = [&](unsigned long long id, Clock::time_point now) {
    Impl::Call& c = im.calls.at(id);
    if (!c.started) {
      c.started = true;
      c.first_start = now;
    }
    auto t = std::make_unique<Impl::Transfer>();
    t->call = id;
    t->max_body = m_options.max_response_bytes;
    if (!im.idle.empty()) {
      t->easy = im.idle.back();
      im.idle.pop_back();
    } else {
      t->easy = curl_easy_init();
    }
    std::string url = base_of(c) + c.http->path;
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c.http->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(c.http->body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, im.headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(m_options.timeout * 1000));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, m_options.low_speed_time);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_multi_add_handle(im.multi, e);
    im.active.push_back(std::move(t));
    ++m_stats.attempts;
  };

  // Hands a call's response back; the call leaves the engine first, so on_done may throw.
  auto deliver = [&](unsigned long long id, Response response) {
    auto node = im.calls.extract(id);
    response.latency_seconds = std::chrono::duration<double>(Clock::now() - node.mapped().first_start).count();
    delivered = true;
    on_done(node.mapped().tag, std::move(response));
  };

  auto backoff = [&](int attempt) {
    double d = std::min(m_options.backoff_max, m_options.backoff_base * std::pow(2.0, attempt));
    // Jitter spreads the retries of a burst of failures so they do not hit the server together.
    return d * std::uniform_real_distribution<double>(0.5, 1.0)(im.rng);
  };

  auto retry_or_fail = [&](unsigned long long id, bool may_retry, std::optional<double> server_delay, Response failure) {
    Impl::Call& c = im.calls.at(id);
    if (may_retry && c.attempt < m_options.max_retries) {
      double delay = server_delay ? std::min(*server_delay, k_longest_retry_after) : backoff(c.attempt);
      ++m_stats.retries;
      ++c.attempt;
      im.waiting.push({Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay)), id});
      return;
    }
    if (c.attempt > 0) failure.message += fmt::format(" (after {} attempts)", c.attempt + 1);
    deliver(id, std::move(failure));
  };

  auto complete = [&](Impl::Transfer& t, CURLcode code) {
    Impl::Call& c = im.calls.at(t.call);
    const std::string& base = base_of(c);
    const std::string& path = c.http->path;
    // Whatever the server sent may echo the request's headers: redacted before it is parsed or quoted.
    t.body = secrets::redact(t.body);
    if (code == CURLE_WRITE_ERROR && t.too_large) {
      // Not retried: a server that sends this much once will likely do it again, and each
      // attempt costs the whole cap in transfer.
      deliver(t.call, Response::failed(FailureKind::too_large,
                                        fmt::format("POST {}{}: the reply passed {} bytes (--max-response-bytes) and was abandoned",
                                                    base, path, m_options.max_response_bytes)));
      return;
    }
    if (code == CURLE_WRITE_ERROR && t.error_cut) code = CURLE_OK;  // the status and the head are all we need
    if (code != CURLE_OK) {
      FailureKind kind = code == CURLE_OPERATION_TIMEDOUT ? FailureKind::timeout : FailureKind::transport;
      std::string detail = secrets::redact(t.error[0] ? t.error : curl_easy_strerror(code));
      retry_or_fail(t.call, true, std::nullopt, Response::failed(kind, fmt::format("POST {}{}: {}", base, path, detail)));
      return;
    }
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      Response r = c.parse(c.tag, t.body);
      secrets::redact(r);  // a value the server escaped in JSON is plain text once parsed
      r.http_status = static_cast<int>(status);
      if (r.failure == FailureKind::malformed) {
        // Once more only: a transient truncation heals, a server that does not give this shape never will.
        const bool again = !c.malformed_retried;
        c.malformed_retried = true;
        r.message = fmt::format("POST {}{}: {}", base, path, r.message);
        retry_or_fail(t.call, again, std::nullopt, std::move(r));
        return;
      }
      // Additive increase: the window grows by about one request per window of successes.
      im.window = std::min<double>(m_options.concurrency, im.window + 1.0 / im.window);
      deliver(t.call, std::move(r));
      return;
    }
    Response failure = Response::failed(FailureKind::http_status,
                                        fmt::format("POST {}{}: HTTP {}: {}", base, path, status, excerpt(t.body)));
    failure.http_status = static_cast<int>(status);
    if (!retryable_status(status)) {
      deliver(t.call, std::move(failure));
      return;
    }
    if (status == 429) {
      ++m_stats.throttled;
      // Multiplicative decrease, at most once a second: one burst of 429s is one signal.
      auto now = Clock::now();
      if (now - im.last_halving > std::chrono::seconds(1)) {
        im.window = std::max(1.0, im.window / 2);
        im.last_halving = now;
      }
    }
    std::optional<double> delay;
    if (!t.retry_after_ms.empty()) {
      try {
        delay = std::stod(t.retry_after_ms) / 1000.0;
      } catch (const std::exception&) {
      }
    }
    if (!delay && !t.retry_after.empty()) delay = parse_retry_after(t.retry_after, static_cast<long long>(std::time(nullptr)));
    retry_or_fail(t.call, true, delay, std::move(failure));
  };

  while (!im.calls.empty()) {
    auto now = Clock::now();
    // Start what may start: retries that are due first, then fresh calls.
    while (static_cast<double>(im.active.size()) < std::floor(im.window)) {
      bool due = !im.waiting.empty() && im.waiting.top().ready <= now;
      if (!due && im.fresh.empty()) break;
      if (m_options.rps > 0 && now < im.next_slot) break;
      if (due) {
        unsigned long long id = im.waiting.top().call;
        im.waiting.pop();
        start(id, now);
      } else {
        unsigned long long id = im.fresh.front();
        im.fresh.pop_front();
        start(id, now);
      }
      if (m_options.rps > 0)
        im.next_slot = std::max(im.next_slot, now) +
                       std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / m_options.rps));
    }
    int running = 0;
    curl_multi_perform(im.multi, &running);
    int queued = 0;
    bool any = false;
    while (CURLMsg* msg = curl_multi_info_read(im.multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      any = true;
      CURL* easy = msg->easy_handle;
      CURLcode code = msg->data.result;
      Impl::Transfer* raw = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&raw));
      curl_multi_remove_handle(im.multi, easy);
      auto it = std::find_if(im.active.begin(), im.active.end(), [&](const auto& p) { return p.get() == raw; });
      std::unique_ptr<Impl::Transfer> t = std::move(*it);
      im.active.erase(it);
      // The transfer's buffers go with it: an idle handle must point at none of them.
      curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
      im.idle.push_back(easy);  // before on_done, which may throw
      complete(*t, code);
    }
    if (delivered) return;
    if (any) continue;  // a retry may start now, or a fresh call take the freed slot
    now = Clock::now();
    if (now >= deadline) return;
    // Sleep until a transfer needs attention, a retry is due, a rate slot opens or time is up.
    int timeout_ms = 100;
    auto wake = [&](Clock::time_point at) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - now).count();
      timeout_ms = std::min<int>(timeout_ms, static_cast<int>(std::max<long long>(0, ms)));
    };
    wake(deadline + std::chrono::milliseconds(1));  // rounded up: a wait never ends just short of it
    if (!im.waiting.empty()) wake(im.waiting.top().ready);
    if (m_options.rps > 0 && !im.fresh.empty()) wake(im.next_slot);
    curl_multi_poll(im.multi, nullptr, 0, timeout_ms, nullptr);
  }
}

void HttpEngine::run(std::span<const HttpCall> calls, const ParseBody& parse, const OnHttpDone& on_done) {
  Impl& im = *m_impl;
  if (!im.calls.empty()) throw std::logic_error("HttpEngine::run while calls submitted one by one are pending");
  // Every call queued at once, borrowed rather than copied: fresh calls start while others wait
  // to be retried, as they always did.
  for (size_t i = 0; i < calls.size(); ++i) {
    const unsigned long long id = im.next_id++;
    Impl::Call& c = im.calls[id];
    c.tag = i;
    c.http = &calls[i];
    c.parse = parse;
    c.sequence = i;
    im.fresh.push_back(id);
  }
  try {
    while (!im.calls.empty()) poll(1.0, on_done);
  } catch (...) {
    cancel_all();
    throw;
  }
}

} // namespace keval
