#pragma once
// Test support for the HTTP backends: start keval-mock-server on 127.0.0.1 at a free port, a
// generated multiple-choice task in a scratch tasks/datasets tree, and the mock's counters.
#include <csignal>
#include <cstdio>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval::testing {

// The single number `sql` selects from the database at `path` (-1 when there is none).
inline long long count_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  long long n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return n;
  sqlite3_exec(db, sql.c_str(), [](void* o, int, char** v, char**) {
    *static_cast<long long*>(o) = v[0] ? std::stoll(v[0]) : -1;
    return 0;
  }, &n, nullptr);
  sqlite3_close(db);
  return n;
}

// The last user message of each request `sql` selects (request_json of stored responses or
// judgements): what the mock counts as a prompt.
inline std::set<std::string> stored_prompts(const std::string& path, const std::string& sql) {
  std::set<std::string> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_exec(db, sql.c_str(), [](void* o, int, char** v, char**) {
    auto j = nlohmann::json::parse(v[0], nullptr, false);
    if (!j.is_discarded() && j.contains("messages") && !j["messages"].empty())
      static_cast<std::set<std::string>*>(o)->insert(j["messages"].back().value("content", ""));
    return 0;
  }, &out, nullptr);
  sqlite3_close(db);
  return out;
}

// The mock server as a child process; killed (and reaped) when this goes out of scope, even
// when the test failed.
class MockServer {
public:
  explicit MockServer(const std::string& flags = "") {
    int out[2];
    if (::pipe(out) != 0) return;
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::string cmd = std::string("exec ") + KEVAL_MOCK_SERVER + " --port 0 " + flags;
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    m_port = line.empty() ? 0 : std::stoi(line);
  }
  ~MockServer() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  MockServer(const MockServer&) = delete;
  MockServer& operator=(const MockServer&) = delete;

  int port() const { return m_port; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/v1"; }

  nlohmann::json stats(bool per_prompt = false) const {
    std::string url = "http://127.0.0.1:" + std::to_string(m_port);
    url += per_prompt ? "/stats?prompts=1" : "/stats";
    std::string body;
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
      static_cast<std::string*>(out)->append(data, size * n);
      return size * n;
    });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) return nlohmann::json::object();
    return nlohmann::json::parse(body, nullptr, false);
  }

private:
  pid_t m_pid = -1;
  int m_port = 0;
};

// A tasks/ and datasets/ tree holding `mock_mc`: n four-way questions; in every other one the
// gold choice carries the mock's marker (★), which the mock answers (generation) and favours
// (log-likelihood); the rest get a hash-picked answer.
inline std::string make_mock_task(const ScratchDir& dir, int n) {
  write_file(dir.path() / "tasks/mock/mock_mc.yaml", R"(task: mock_mc
suite: mock
version: 1
licence: "test data"
dataset:
  file: mock/mc.jsonl
  format: jsonl
output_type: multiple_choice
prompt: "질문 {{q}}\n답:"
generation_prompt: "질문 {{q}}\n{{options}}\n답:"
choices_field: choices
choice_labels: [A, B, C, D]
target:
  field: gold
  kind: index
scorer: multiple_choice
metrics: [acc]
)");
  std::string rows;
  for (int i = 0; i < n; ++i) {
    int gold = (i * 7) % 4;
    nlohmann::json choices = nlohmann::json::array();
    for (int c = 0; c < 4; ++c) {
      std::string text = "보기" + std::to_string(i) + "_" + std::to_string(c);
      if (c == gold && i % 2 == 0) text += "★";
      choices.push_back(text);
    }
    rows += nlohmann::json{{"q", "문제 " + std::to_string(i) + "번은 무엇인가?"}, {"choices", choices}, {"gold", gold}}.dump() + "\n";
  }
  write_file(dir.path() / "datasets/mock/mc.jsonl", rows);
  return "--tasks-dir " + shell_quote(dir / "tasks") + " --datasets-dir " + shell_quote(dir / "datasets");
}

} // namespace keval::testing
