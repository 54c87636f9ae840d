#include "http_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>
#include <queue>
#include <random>

#include <curl/curl.h>
#include <fmt/format.h>

#include "secrets.h"
#include "util/text.h"

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

bool retryable_status(long status) { return status == 408 || status == 429 || status >= 500; }

struct HttpEngine::Impl {
  // One attempt of one call.
  struct Transfer {
    CURL* easy = nullptr;
    size_t index = 0;
    int attempt = 0;
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
    size_t index;
    int attempt;
    bool operator>(const Waiting& o) const { return ready > o.ready; }
  };

  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  std::vector<CURL*> idle;                  // easy handles kept for reuse
  std::vector<std::unique_ptr<Transfer>> active;
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
  for (auto& url : m_options.base_urls)
    while (!url.empty() && url.back() == '/') url.pop_back();
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

void HttpEngine::run(std::span<const HttpCall> calls, const ParseBody& parse,
                     const std::function<void(size_t, Response)>& on_done) {
  Impl& im = *m_impl;
  const int limit = std::max(1, m_options.concurrency);
  double window = limit;                          // the effective concurrency (AIMD)
  Clock::time_point last_halving{};
  Clock::time_point next_slot = Clock::now();     // --rps pacing
  size_t next_fresh = 0, finished = 0;
  std::priority_queue<Impl::Waiting, std::vector<Impl::Waiting>, std::greater<>> waiting;

  struct Cleanup {
    Impl& im;
    ~Cleanup() { im.drop_active(); }
  } cleanup{im};

  auto start = [&](size_t index, int attempt) {
    auto t = std::make_unique<Impl::Transfer>();
    t->index = index;
    t->attempt = attempt;
    t->max_body = m_options.max_response_bytes;
    if (!im.idle.empty()) {
      t->easy = im.idle.back();
      im.idle.pop_back();
    } else {
      t->easy = curl_easy_init();
    }
    const HttpCall& call = calls[index];
    const auto& base = m_options.base_urls[(index + static_cast<size_t>(attempt)) % m_options.base_urls.size()];
    std::string url = base + call.path;
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
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

  auto backoff = [&](int attempt) {
    double d = std::min(m_options.backoff_max, m_options.backoff_base * std::pow(2.0, attempt));
    // Jitter spreads the retries of a burst of failures so they do not hit the server together.
    return d * std::uniform_real_distribution<double>(0.5, 1.0)(im.rng);
  };

  auto retry_or_fail = [&](Impl::Transfer& t, std::optional<double> server_delay, Response failure) {
    if (t.attempt < m_options.max_retries) {
      double delay = server_delay ? std::min(*server_delay, k_longest_retry_after) : backoff(t.attempt);
      ++m_stats.retries;
      waiting.push({Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay)),
                    t.index, t.attempt + 1});
      return;
    }
    if (t.attempt > 0) failure.message += fmt::format(" (after {} attempts)", t.attempt + 1);
    ++finished;
    on_done(t.index, std::move(failure));
  };

  auto complete = [&](Impl::Transfer& t, CURLcode code) {
    const HttpCall& call = calls[t.index];
    const auto& base = m_options.base_urls[(t.index + static_cast<size_t>(t.attempt)) % m_options.base_urls.size()];
    // Whatever the server sent may echo the request's headers: redacted before it is parsed or quoted.
    t.body = secrets::redact(t.body);
    if (code == CURLE_WRITE_ERROR && t.too_large) {
      // Not retried: a server that sends this much once will likely do it again, and each
      // attempt costs the whole cap in transfer.
      ++finished;
      on_done(t.index, Response::failed(FailureKind::too_large,
                                        fmt::format("POST {}{}: the reply passed {} bytes (--max-response-bytes) and was abandoned",
                                                    base, call.path, m_options.max_response_bytes)));
      return;
    }
    if (code == CURLE_WRITE_ERROR && t.error_cut) code = CURLE_OK;  // the status and the head are all we need
    if (code != CURLE_OK) {
      FailureKind kind = code == CURLE_OPERATION_TIMEDOUT ? FailureKind::timeout : FailureKind::transport;
      std::string detail = secrets::redact(t.error[0] ? t.error : curl_easy_strerror(code));
      retry_or_fail(t, std::nullopt, Response::failed(kind, fmt::format("POST {}{}: {}", base, call.path, detail)));
      return;
    }
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      Response r = parse(t.index, t.body);
      secrets::redact(r);  // a value the server escaped in JSON is plain text once parsed
      r.http_status = static_cast<int>(status);
      if (r.failure == FailureKind::malformed) {
        r.message = fmt::format("POST {}{}: {}", base, call.path, r.message);
        retry_or_fail(t, std::nullopt, std::move(r));
        return;
      }
      // Additive increase: the window grows by about one request per window of successes.
      window = std::min<double>(limit, window + 1.0 / window);
      ++finished;
      on_done(t.index, std::move(r));
      return;
    }
    Response failure = Response::failed(FailureKind::http_status,
                                        fmt::format("POST {}{}: HTTP {}: {}", base, call.path, status, excerpt(t.body)));
    failure.http_status = static_cast<int>(status);
    if (!retryable_status(status)) {
      ++finished;
      on_done(t.index, std::move(failure));
      return;
    }
    if (status == 429) {
      ++m_stats.throttled;
      // Multiplicative decrease, at most once a second: one burst of 429s is one signal.
      auto now = Clock::now();
      if (now - last_halving > std::chrono::seconds(1)) {
        window = std::max(1.0, window / 2);
        last_halving = now;
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
    retry_or_fail(t, delay, std::move(failure));
  };

  while (finished < calls.size()) {
    auto now = Clock::now();
    // Start what may start: retries that are due first, then fresh calls.
    while (static_cast<double>(im.active.size()) < std::floor(window)) {
      bool due = !waiting.empty() && waiting.top().ready <= now;
      if (!due && next_fresh >= calls.size()) break;
      if (m_options.rps > 0 && now < next_slot) break;
      if (due) {
        auto w = waiting.top();
        waiting.pop();
        start(w.index, w.attempt);
      } else {
        start(next_fresh++, 0);
      }
      if (m_options.rps > 0)
        next_slot = std::max(next_slot, now) + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / m_options.rps));
    }
    // Sleep until a transfer needs attention, a retry is due or a rate slot opens.
    int timeout_ms = 100;
    auto wake = [&](Clock::time_point at) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - now).count();
      timeout_ms = std::min<int>(timeout_ms, static_cast<int>(std::max<long long>(0, ms)));
    };
    if (!waiting.empty()) wake(waiting.top().ready);
    if (m_options.rps > 0 && next_fresh < calls.size()) wake(next_slot);
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
    if (!any && finished < calls.size()) curl_multi_poll(im.multi, nullptr, 0, timeout_ms, nullptr);
  }
}

} // namespace keval
