// `exec`: a local program keval starts (`--cmd "PROGRAM ARGS"`, run by /bin/sh) and talks to in
// JSON lines (docs/formats.md, "The exec protocol"). keval writes one request a line to its stdin:
//   {"id": "r1", "type": "generate", "messages": [...], "max_tokens": 256, "stop": ["\n\n"], "temperature": 0}
//   {"id": "r2", "type": "loglikelihood", "context": "…", "continuations": [" 예", " 아니오"]}
// and reads one reply a line from its stdout, matched by id, in any order:
//   {"id": "r1", "text": "…"}   {"id": "r2", "logprobs": [-0.31, -1.72]}   {"id": "r3", "error": "message"}
// The program's stderr is keval's. A program that exits, or writes a line that is not a reply,
// fails every request it still owes (kind `backend` or `malformed`, naming the program); the
// samples stay unstored, so `keval run --resume` retries them with a fresh program. In a stream
// (open_stream) the next request after such a failure starts the program again; in a batch
// (answer) the rest of the batch fails the same way and the next batch starts it again. Batches
// and streams may be open together on one program: each reply goes to whoever sent its request.
// Bounds: `--timeout` is the longest wait for a complete reply line (bytes without a newline do
// not count), and a line longer than `--max-response-bytes` fails what is owed (kind too_large).
// The program runs in a process group of its own; whenever keval stops it (end of run, timeout,
// an error, or a SIGINT / SIGTERM / SIGHUP that ends keval) the whole group is killed, so no
// child it started outlives keval.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend.h"
#include "backends/exec_protocol.h"
#include "secrets.h"
#include "error.h"

extern char** environ;

namespace keval {
namespace {

nlohmann::json request_line(const Request& r, const BackendOptions& o) {
  nlohmann::json j;
  if (r.kind == RequestKind::loglikelihood) {
    j["type"] = "loglikelihood";
    j["context"] = r.context;
    j["continuations"] = r.continuations;
    return j;
  }
  j["type"] = "generate";
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  j["messages"] = std::move(messages);
  j["max_tokens"] = o.max_tokens ? *o.max_tokens : r.generation.max_tokens;
  j["stop"] = r.generation.stop;
  j["temperature"] = o.temperature ? *o.temperature : r.generation.temperature;
  return j;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// The process groups of the programs running now, for the signal handler below: a lock-free
// table, since a handler may only read atomics.
constexpr size_t k_max_programs = 32;
std::array<std::atomic<pid_t>, k_max_programs> g_program_groups{};
constexpr int k_ending_signals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_previous_actions[std::size(k_ending_signals)];

// Kills every program's group, then lets the signal do what it did before (by default: end keval).
void on_ending_signal(int signal) {
  for (auto& group : g_program_groups)
    if (pid_t pgid = group.load(); pgid > 0) ::kill(-pgid, SIGKILL);
  for (size_t i = 0; i < std::size(k_ending_signals); ++i)
    if (k_ending_signals[i] == signal) ::sigaction(signal, &g_previous_actions[i], nullptr);
  ::raise(signal);
}

void install_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (size_t i = 0; i < std::size(k_ending_signals); ++i) {
      struct sigaction current{};
      ::sigaction(k_ending_signals[i], nullptr, &current);
      // An ignored signal (nohup, a background job) stays ignored: it does not end keval.
      if (current.sa_handler == SIG_IGN) continue;
      g_previous_actions[i] = current;
      struct sigaction handler{};
      handler.sa_handler = &on_ending_signal;
      sigemptyset(&handler.sa_mask);
      ::sigaction(k_ending_signals[i], &handler, nullptr);
    }
  });
}

void track_group(pid_t pgid) {
  for (auto& group : g_program_groups) {
    pid_t empty = 0;
    if (group.compare_exchange_strong(empty, pgid)) return;
  }
}

void untrack_group(pid_t pgid) {
  for (auto& group : g_program_groups) {
    pid_t expected = pgid;
    if (group.compare_exchange_strong(expected, 0)) return;
  }
}

class ExecBackend final : public Backend {
public:
  explicit ExecBackend(const BackendOptions& o) : m_options(o) {
    if (o.command.empty()) throw InputError("--backend exec needs --cmd \"PROGRAM ARGS\"");
    if (o.timeout <= 0) throw InputError("--timeout must be positive (seconds)");
    if (o.max_response_bytes == 0) throw InputError("--max-response-bytes must be positive");
    // A program that dies leaves a broken pipe: that must be an error to report, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
  }
  ~ExecBackend() override { stop(true); }

  std::string kind() const override { return "exec"; }
  bool supports_loglikelihood(std::string_view) const override { return true; }
  std::optional<std::string> cache_payload(const Request& r) const override {
    return dump({{"cmd", m_options.command}, {"request", request_line(r, m_options)}});
  }

  // Keeps up to --concurrency requests with the program. Once the program has died (or been
  // stopped as stuck or broken) the rest of the batch fails as what it owed did, without
  // starting it again; the next batch starts a fresh program.
  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    Session session(*this);
    const size_t slots = static_cast<size_t>(std::max(1, m_options.concurrency));
    const unsigned long long deaths = m_deaths;
    size_t next = 0, done = 0;
    while (done < batch.size()) {
      for (; next < batch.size() && next - done < slots; ++next) {
        if (m_deaths != deaths) decide(session.id(), next, Response::failed(m_dead_kind, m_dead_reason));
        else send(session.id(), next, batch[next]);
      }
      receive(session.id(), 1.0, [&](size_t i, Response r) {
        ++done;
        on_response(i, std::move(r));
      });
    }
  }

  // The program is started at the first request and again at the first request after it died,
  // so one crash fails only what it owed then.
  std::unique_ptr<RequestStream> open_stream(size_t concurrency) override {
    return std::make_unique<Stream>(*this, concurrency > 0 ? concurrency : static_cast<size_t>(std::max(1, m_options.concurrency)));
  }

private:
  using OnDone = std::function<void(size_t tag, Response)>;

  // A user of the program (a batch or a stream; several may be open): each reply goes to the
  // user that sent its request. A user that ends with requests owed has their replies dropped
  // as they arrive.
  class Session {
  public:
    explicit Session(ExecBackend& backend) : m_backend(backend), m_id(++backend.m_users) {}
    ~Session() { m_backend.abandon(m_id); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    unsigned long long id() const { return m_id; }

  private:
    ExecBackend& m_backend;
    unsigned long long m_id;
  };

  class Stream final : public RequestStream {
  public:
    Stream(ExecBackend& backend, size_t concurrency) : m_backend(backend), m_session(backend), m_slots(concurrency) {}
    size_t free_slots() const override { return m_requests.size() < m_slots ? m_slots - m_requests.size() : 0; }
    size_t in_flight() const override { return m_requests.size(); }
    void submit(Request request) override {
      const size_t tag = m_next_tag++;
      m_backend.send(m_session.id(), tag, request);
      m_requests.emplace(tag, std::move(request));
    }
    void poll(double timeout_seconds, const std::function<void(Request, Response)>& on_response) override {
      m_backend.receive(m_session.id(), timeout_seconds, [&](size_t tag, Response response) {
        auto node = m_requests.extract(tag);
        on_response(std::move(node.mapped()), std::move(response));
      });
    }

  private:
    ExecBackend& m_backend;
    Session m_session;
    size_t m_slots;
    std::unordered_map<size_t, Request> m_requests;
    size_t m_next_tag = 0;
  };

  // Queues one request line for the program, starting the program when none runs.
  void send(unsigned long long user, size_t tag, const Request& r) {
    if (m_pid <= 0) launch();
    // Since when the program owes a reply line: the start of the wait, or its last complete line.
    if (m_outstanding.empty()) m_waiting_since = Clock::now();
    std::string id = fmt::format("r{}", ++m_counter);
    nlohmann::json line = request_line(r, m_options);
    line["id"] = id;
    m_out += dump(line);
    m_out += '\n';
    m_outstanding.emplace(std::move(id), Owed{user, tag, Clock::now()});
    ++m_owed[user];
  }

  // A response decided without asking the program, handed back at the next receive.
  void decide(unsigned long long user, size_t tag, Response response) {
    m_ready[user].emplace_back(tag, std::move(response));
    ++m_owed[user];
  }

  // Talks to the program for at most `timeout_seconds` and hands every response decided for
  // `user` meanwhile to `on_done` (others' wait for them); returns once one was handed back, the
  // time is up, or nothing is owed to `user`.
  void receive(unsigned long long user, double timeout_seconds, const OnDone& on_done) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(std::max(0.0, timeout_seconds)));
    for (;;) {
      // A reference, not an iterator: on_done may open another user, which may rehash the map.
      if (auto& ready = m_ready[user]; !ready.empty()) {
        // Each leaves the queue before on_done, which may throw (or send more).
        while (!ready.empty()) {
          auto [tag, response] = std::move(ready.front());
          ready.pop_front();
          --m_owed[user];
          on_done(tag, std::move(response));
        }
        return;
      }
      if (m_owed[user] == 0) return;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pump(static_cast<int>(std::clamp<long long>(left, 0, 200)));
      if (Clock::now() >= deadline) return;
    }
  }

  // One poll() of the program's pipes: writes what is queued, reads what it wrote, and moves
  // the responses it decided to m_ready.
  void pump(int wait_ms) {
    pollfd fds[2] = {{m_out_fd, POLLIN, 0}, {m_in, static_cast<short>(m_out_sent < m_out.size() ? POLLOUT : 0), 0}};
    int ready = ::poll(fds, 2, wait_ms);
    if (ready < 0 && errno != EINTR) throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
    if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
      ssize_t n = ::write(m_in, m_out.data() + m_out_sent, m_out.size() - m_out_sent);
      if (n > 0) {
        m_out_sent += static_cast<size_t>(n);
        if (m_out_sent == m_out.size()) m_out.clear(), m_out_sent = 0;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        died(fmt::format("could not write to it ({})", std::strerror(errno)));
        return;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t n = ::read(m_out_fd, buf, sizeof buf);
      if (n == 0) {
        died("it exited");
        return;
      }
      if (n > 0) {
        m_in_buffer.append(buf, static_cast<size_t>(n));
        size_t start = 0, end;
        // Only the new bytes can hold a newline: a program dribbling a long line is not rescanned.
        size_t from = m_in_buffer.size() - static_cast<size_t>(n);
        while ((end = m_in_buffer.find('\n', from)) != std::string::npos) {
          if (end - start > m_options.max_response_bytes) break;
          // What the program writes may carry a secret from its environment: redacted first.
          std::string line = secrets::redact(std::string_view(m_in_buffer).substr(start, end - start));
          start = from = end + 1;
          m_waiting_since = Clock::now();
          if (line.empty() || line == "\r") continue;
          if (!handle_line(line)) {
            give_up(FailureKind::malformed, fmt::format("exec program '{}' wrote a line that is not a reply: {}",
                                                        m_options.command, line.substr(0, 200)));
            return;
          }
        }
        m_in_buffer.erase(0, start);
        if (m_in_buffer.size() > m_options.max_response_bytes) {
          give_up(FailureKind::too_large, fmt::format("exec program '{}' wrote a line longer than {} bytes "
                                                      "(--max-response-bytes)", m_options.command,
                                                      m_options.max_response_bytes));
          return;
        }
      }
    }
    if (!m_outstanding.empty() && Clock::now() - m_waiting_since > std::chrono::duration<double>(m_options.timeout))
      give_up(FailureKind::timeout, fmt::format("exec program '{}' wrote no complete reply line for {} s (--timeout)",
                                                m_options.command, m_options.timeout));
  }

  // A reply for an outstanding id; false when the line is not a reply at all.
  bool handle_line(const std::string& line) {
    std::optional<ExecReply> reply = parse_exec_reply(line, m_options.command);
    if (!reply) return false;
    if (m_abandoned.erase(reply->id)) return true;  // owed to a batch or stream that has ended
    auto it = m_outstanding.find(reply->id);
    if (it == m_outstanding.end()) return false;
    reply->response.latency_seconds = std::chrono::duration<double>(Clock::now() - it->second.sent).count();
    m_ready[it->second.user].emplace_back(it->second.tag, std::move(reply->response));
    m_outstanding.erase(it);
    return true;
  }

  // Fails what the program owes, recording why for what a batch has not sent yet.
  void fail_owed(FailureKind kind, const std::string& why) {
    m_dead_kind = kind;
    m_dead_reason = why;
    ++m_deaths;
    for (auto& [id, entry] : m_outstanding) m_ready[entry.user].emplace_back(entry.tag, Response::failed(kind, why));
    m_outstanding.clear();
    m_abandoned.clear();
  }

  // Stops the program at once (it is stuck or broken) and fails what it owes.
  void give_up(FailureKind kind, std::string why) {
    stop(false);
    fail_owed(kind, why);
  }

  // A user ends: what it is still owed is dropped, replies to it ignored when they come.
  void abandon(unsigned long long user) {
    for (auto it = m_outstanding.begin(); it != m_outstanding.end();) {
      if (it->second.user != user) {
        ++it;
        continue;
      }
      m_abandoned.insert(it->first);
      it = m_outstanding.erase(it);
    }
    m_ready.erase(user);
    m_owed.erase(user);
  }

  void launch() {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
      throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
    install_signal_handlers();
    // The ending signals wait until the program's group is in the table, so none is missed.
    sigset_t ending, previous;
    sigemptyset(&ending);
    for (int s : k_ending_signals) sigaddset(&ending, s);
    ::pthread_sigmask(SIG_BLOCK, &ending, &previous);
    // A group of its own, so stopping the program can kill everything it started; keval's
    // signal mask and its ignored SIGPIPE are not the program's.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setsigmask(&attributes, &previous);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    const char* argv[] = {"/bin/sh", "-c", m_options.command.c_str(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc == 0) track_group(pid);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (rc != 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      throw std::runtime_error(fmt::format("exec program '{}': cannot start: {}", m_options.command, std::strerror(rc)));
    }
    m_pid = pid;
    m_in = to_child[1];
    m_out_fd = from_child[0];
    ::fcntl(m_in, F_SETFL, ::fcntl(m_in, F_GETFL) | O_NONBLOCK);
    m_in_buffer.clear();
  }

  void died(const std::string& what) {
    int status = 0;
    pid_t pid = m_pid;
    stop(true, &status);
    std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                      : WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                            : std::string("status unknown");
    fail_owed(FailureKind::backend,
              fmt::format("exec program '{}' (pid {}) stopped answering: {} ({})", m_options.command, pid, what, how));
  }

  // Closes the pipes, kills the program's whole group and reaps the program. `graceful`: the
  // program first gets a second to leave by itself on the end of its input.
  void stop(bool graceful, int* status_out = nullptr) {
    if (m_in >= 0) ::close(m_in), m_in = -1;
    if (m_out_fd >= 0) ::close(m_out_fd), m_out_fd = -1;
    // Nothing queued for this program goes to the next one, and no reply of it is awaited.
    m_out.clear();
    m_out_sent = 0;
    std::string().swap(m_in_buffer);  // may be a line's worth of --max-response-bytes
    m_abandoned.clear();
    if (m_pid > 0) {
      if (graceful) {
        // WNOWAIT leaves the program unreaped, so its pid (the group's id) cannot be reused
        // before the group is killed.
        siginfo_t info{};
        for (int i = 0; i < 50; ++i) {
          info.si_pid = 0;
          if (::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0) break;
          ::usleep(20000);
        }
      }
      // Children the program started (and did not wait for) go with it.
      ::kill(-m_pid, SIGKILL);
      untrack_group(m_pid);  // before the reap frees the pid for reuse
      int status = 0;
      while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (status_out) *status_out = status;
    }
    m_pid = -1;
  }

  using Clock = std::chrono::steady_clock;

  BackendOptions m_options;
  pid_t m_pid = -1;
  int m_in = -1, m_out_fd = -1;             // the program's stdin (we write), its stdout (we read)
  std::string m_out;                        // bytes queued for the program's stdin
  size_t m_out_sent = 0;
  std::string m_in_buffer;                  // what it wrote past its last complete line
  struct Owed {
    unsigned long long user;                // the Session that sent it
    size_t tag;                             // the user's
    Clock::time_point sent;                 // when its line was queued: its latency counts from here
  };
  std::unordered_map<std::string, Owed> m_outstanding;     // by id
  std::unordered_set<std::string> m_abandoned;            // ids owed to a user that has ended
  // Per user: responses decided, not yet handed back; requests sent or decided, not handed back.
  std::unordered_map<unsigned long long, std::deque<std::pair<size_t, Response>>> m_ready;
  std::unordered_map<unsigned long long, size_t> m_owed;
  unsigned long long m_users = 0;           // Sessions opened so far
  Clock::time_point m_waiting_since{};
  FailureKind m_dead_kind = FailureKind::backend;
  std::string m_dead_reason;
  unsigned long long m_deaths = 0;          // times the program died or was stopped
  unsigned long long m_counter = 0;
};

} // namespace

std::unique_ptr<Backend> make_exec_backend(const BackendOptions& options) {
  return std::make_unique<ExecBackend>(options);
}

} // namespace keval
