// What was evaluated is what is recorded: keval asks each server who it is and whether it gives
// prompt log-probs before sending, records both, and keys its response cache by the identity, so
// two models served under one name never share answers. Against keval-mock-server on 127.0.0.1
// acting as llama.cpp's server (echo accepted and ignored, /props) and as vLLM (/v1/models with
// root and max_model_len).
#include <gtest/gtest.h>

#include <optional>

#include "http/mock.h"

namespace keval {
namespace {

using testing::count_rows;
using testing::make_mock_task;
using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;

// The stored configuration of the run named `name`.
nlohmann::json run_config(const std::string& db, const std::string& name) {
  sqlite3* handle = nullptr;
  std::string text;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return nullptr;
  const std::string sql = "SELECT config_json FROM runs WHERE name = '" + name + "'";
  sqlite3_exec(handle, sql.c_str(), [](void* out, int, char** v, char**) {
    *static_cast<std::string*>(out) = v[0] ? v[0] : "";
    return 0;
  }, &text, nullptr);
  sqlite3_close(handle);
  if (text.empty()) return nullptr;
  return nlohmann::json::parse(text, nullptr, false);
}

long long from_cache(const std::string& db, const std::string& name) {
  return count_rows(db, "SELECT COUNT(*) FROM responses r JOIN runs ON runs.id = r.run_id WHERE runs.name = '" + name +
                            "' AND r.from_cache = 1");
}

TEST(Identity, TwoModelsUnderOneNameNeverShareCachedAnswers) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 12);
  const std::string db = dir / "keval.db";
  int port = 0;
  auto run = [&](const std::string& name) {
    return run_keval(global + " run --tasks mock_mc --backend openai-chat --model local --base-url http://127.0.0.1:" +
                     std::to_string(port) + "/v1 --no-progress --name " + name + " --db " + shell_quote(db));
  };
  {
    MockServer first("--flavor llama.cpp --model-path /models/exaone-3.5-7.8b-q4.gguf");
    port = first.port();
    ASSERT_GT(port, 0);
    auto r = run("first");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(first.stats()["total"], 12);
  }
  {
    // Another model behind the same URL and the same --model name, as when llama-server is
    // restarted with another file.
    MockServer second("--flavor llama.cpp --model-path /models/solar-10.7b-q4.gguf --port " + std::to_string(port));
    ASSERT_EQ(second.port(), port);
    auto r = run("second");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(second.stats()["total"], 12) << "every request must reach the new model";
    EXPECT_EQ(from_cache(db, "second"), 0);
    // The same model again: now the cache answers.
    auto again = run("third");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(second.stats()["total"].get<int>(), 12);
    EXPECT_EQ(from_cache(db, "third"), 12);
  }
  const auto a = run_config(db, "first"), b = run_config(db, "second");
  EXPECT_EQ(a["backend"]["endpoint"]["endpoints"][0]["props"]["model_path"], "/models/exaone-3.5-7.8b-q4.gguf");
  EXPECT_EQ(b["backend"]["endpoint"]["endpoints"][0]["props"]["model_path"], "/models/solar-10.7b-q4.gguf");
  EXPECT_NE(a["backend"]["identity"], b["backend"]["identity"]);
  EXPECT_EQ(b["backend"]["identity"], run_config(db, "third")["backend"]["identity"]) << "timestamps must not change the identity";
  auto c = run_keval("compare --db " + shell_quote(db) + " first second");
  EXPECT_NE(c.out.find("different models under one name 'local'"), std::string::npos) << c.out << c.err;
}

TEST(Identity, EchoIgnoredByTheServerMeansGenerationNotLoglik) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 8);
  MockServer llama("--flavor llama.cpp");
  const std::string db = dir / "keval.db";
  const std::string base = global + " run --tasks mock_mc --backend openai-completions --model local --base-url " +
                           llama.url() + " --no-progress --db " + shell_quote(db);
  auto loglik = run_keval(base + " --mc-mode loglik --name forced");
  EXPECT_EQ(loglik.exit_code, 2);
  EXPECT_NE(loglik.err.find(llama.url()), std::string::npos) << loglik.err;
  EXPECT_NE(loglik.err.find("logprobs"), std::string::npos) << loglik.err;
  EXPECT_EQ(run_config(db, "forced"), nullptr);  // refused before anything was stored

  auto r = run_keval(base + " --name auto");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto config = run_config(db, "auto");
  EXPECT_EQ(config["tasks"][0]["mode"], "generate");
  EXPECT_EQ(config["backend"]["endpoint"]["prompt_logprobs"]["available"], false);
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM responses WHERE status = 'ok'"), 8);
}

TEST(Identity, VllmReportsItsModelAndGivesPromptLogprobs) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 8);
  MockServer vllm("--flavor vllm --model Qwen/Qwen2.5-7B-Instruct --model-path /models/qwen2.5-7b --max-model-len 32768");
  const std::string db = dir / "keval.db";
  auto r = run_keval(global + " run --tasks mock_mc --backend openai-completions --model Qwen/Qwen2.5-7B-Instruct --base-url " +
                     vllm.url() + " --no-progress --name v --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto config = run_config(db, "v");
  EXPECT_EQ(config["tasks"][0]["mode"], "loglik");
  EXPECT_EQ(config["backend"]["endpoint"]["prompt_logprobs"]["available"], true);
  const auto model = config["backend"]["endpoint"]["endpoints"][0]["models"][0];
  EXPECT_EQ(model["root"], "/models/qwen2.5-7b");
  EXPECT_EQ(model["max_model_len"], 32768);
  EXPECT_FALSE(model.contains("created"));
}

TEST(Identity, ModelIdPinsTheIdentityAndResumeRefusesAnotherModel) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 6);
  const std::string db = dir / "keval.db";
  MockServer plain("--flavor llama.cpp --model-path /models/a.gguf");
  auto pinned = run_keval(global + " run --tasks mock_mc --backend openai-chat --model local --model-id exaone-3.5-7.8b-ckpt1200 "
                          "--base-url " + plain.url() + " --no-progress --name pinned --db " + shell_quote(db));
  ASSERT_EQ(pinned.exit_code, 0) << pinned.err;
  EXPECT_EQ(run_config(db, "pinned")["backend"]["identity"], "model-id:exaone-3.5-7.8b-ckpt1200");

  // A run whose every request failed, resumed against another model behind the same URL: refused.
  std::optional<MockServer> server;
  server.emplace("--flavor llama.cpp --model-path /models/a.gguf --always-status 503");
  const int port = server->port();
  auto stopped = run_keval(global + " run --tasks mock_mc --backend openai-chat --model local --base-url " + server->url() +
                           " --max-retries 0 --no-progress --name stopped --db " + shell_quote(db));
  ASSERT_EQ(run_config(db, "stopped")["backend"]["endpoint"]["endpoints"][0]["props"]["model_path"], "/models/a.gguf")
      << stopped.err;
  server.reset();
  server.emplace("--flavor llama.cpp --model-path /models/b.gguf --port " + std::to_string(port));
  ASSERT_EQ(server->port(), port);
  auto resumed = run_keval(global + " run --resume stopped --no-progress --db " + shell_quote(db));
  EXPECT_EQ(resumed.exit_code, 2) << resumed.out;
  EXPECT_NE(resumed.err.find("/models/b.gguf"), std::string::npos) << resumed.err;
  EXPECT_EQ(server->stats()["total"], 0) << "nothing may be sent to the other model";
}

} // namespace
} // namespace keval
