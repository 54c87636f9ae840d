// Server capabilities probed, not assumed, against keval-mock-server acting as SGLang, TGI,
// llama.cpp's server and vLLM: prompt log-probs in SGLang's and TGI's native shapes score as
// lm-evaluation-harness does; prompts that cannot fit the server's context stop the run before
// anything is sent; a refusal of the context is its own failure kind that --resume is never
// said to fix; the mock's /tokenize and refusals are each server's own.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "http/mock.h"

namespace keval {
namespace {

using testing::count_rows;
using testing::make_mock_task;
using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;

struct Reply {
  long status = 0;
  nlohmann::json body;
};

Reply post(const std::string& url, const nlohmann::json& body) {
  std::string text;
  const std::string payload = body.dump();
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &text);
  Reply r;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  r.body = nlohmann::json::parse(text, nullptr, false);
  return r;
}

std::string root(const MockServer& m) { return "http://127.0.0.1:" + std::to_string(m.port()); }

nlohmann::json run_config(const std::string& db) {
  sqlite3* handle = nullptr;
  std::string text;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return nullptr;
  sqlite3_exec(handle, "SELECT config_json FROM runs", [](void* out, int, char** v, char**) {
    *static_cast<std::string*>(out) = v[0] ? v[0] : "";
    return 0;
  }, &text, nullptr);
  sqlite3_close(handle);
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text, nullptr, false);
}

std::map<std::string, std::vector<double>> stored_logprobs(const std::string& db_path) {
  std::map<std::string, std::vector<double>> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_exec(db, "SELECT sample_id, logprobs_json FROM responses WHERE status = 'ok'", [](void* o, int, char** v, char**) {
    auto j = nlohmann::json::parse(v[1] ? v[1] : "null", nullptr, false);
    if (j.is_array()) (*static_cast<std::map<std::string, std::vector<double>>*>(o))[v[0]] = j.get<std::vector<double>>();
    return 0;
  }, &out, nullptr);
  sqlite3_close(db);
  return out;
}

// lm-evaluation-harness's log P(continuation | context) (_encode_pair, then the whole text's
// token log-probs past the context's tokens), from a server with echo on /v1/completions.
double lm_eval_logprob(const MockServer& echo_server, const std::string& context, const std::string& continuation) {
  size_t spaces = 0;
  while (spaces < context.size() && context[context.size() - 1 - spaces] == ' ') ++spaces;
  const std::string stripped = context.substr(0, context.size() - spaces);
  auto echo = [&](const std::string& text) {
    return post(echo_server.url() + "/completions",
                {{"model", "m"}, {"prompt", text}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}})
        .body.at("choices").at(0).at("logprobs");
  };
  const size_t context_tokens = echo(stripped).at("tokens").size();
  const auto whole = echo(context + continuation);
  double sum = 0;
  for (size_t i = context_tokens; i < whole.at("token_logprobs").size(); ++i) sum += whole["token_logprobs"][i].get<double>();
  return sum;
}

// Runs kobest_boolq (its contexts end in "답변: ", so the boundary matters) through `server` and
// compares every stored log-prob with lm-eval's on `echo_server` (the same tokenizer).
void expect_lm_eval_scores(const MockServer& server, const MockServer& echo_server, const std::string& extra,
                           const std::string& db) {
  auto samples = run_keval("samples --json --task kobest_boolq --limit 5 --num-fewshot 1");
  ASSERT_EQ(samples.exit_code, 0) << samples.err;
  auto run = run_keval("run --tasks kobest_boolq --limit 5 --num-fewshot 1 --backend openai-completions --model m "
                       "--no-progress --base-url " + server.url() + " " + extra + " --db " + shell_quote(db));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto stored = stored_logprobs(db);
  ASSERT_EQ(stored.size(), 5u);
  std::istringstream lines(samples.out);
  std::string line;
  size_t compared = 0;
  while (std::getline(lines, line)) {
    const auto s = nlohmann::json::parse(line);
    const auto& ours = stored.at(s.at("id").get<std::string>());
    ASSERT_EQ(ours.size(), s.at("choices").size());
    for (size_t c = 0; c < ours.size(); ++c, ++compared)
      EXPECT_DOUBLE_EQ(ours[c], lm_eval_logprob(echo_server, s.at("prompt"), s["choices"][c])) << s["id"] << " choice " << c;
  }
  EXPECT_EQ(compared, 10u);
}

TEST(NativeLogprobs, SglangGenerateScoresAsLmEvaluationHarness) {
  ScratchDir dir;
  MockServer sglang("--flavor sglang --tokenizer spaces-apart");
  ASSERT_GT(sglang.port(), 0);
  expect_lm_eval_scores(sglang, sglang, "--mc-mode loglik --logprobs-api sglang", dir / "k.db");
  const auto verdict = run_config(dir / "k.db")["backend"]["endpoint"]["prompt_logprobs"];
  EXPECT_EQ(verdict["api"], "sglang");
  EXPECT_EQ(verdict["available"], true);
  EXPECT_EQ(run_config(dir / "k.db")["backend"]["logprobs_api"], "sglang");
  EXPECT_EQ(sglang.stats()["per_path"].value("/generate", 0), 1 + 5) << "the probe, then one request a sample";
}

TEST(NativeLogprobs, TgiIsFoundByTheProbeWhereEchoIsIgnored) {
  ScratchDir dir;
  MockServer tgi("--flavor tgi --model m");
  MockServer reference("--flavor vllm");  // the same tokenizer, with echo
  ASSERT_GT(tgi.port(), 0);
  expect_lm_eval_scores(tgi, reference, "", dir / "k.db");  // --mc-mode auto
  const auto config = run_config(dir / "k.db");
  EXPECT_EQ(config["tasks"][0]["mode"], "loglik");
  const auto verdict = config["backend"]["endpoint"]["prompt_logprobs"];
  EXPECT_EQ(verdict["api"], "tgi");
  ASSERT_EQ(verdict["refused"].size(), 2u);  // the echo shape and SGLang's, with what the server said
  EXPECT_EQ(verdict["refused"][0]["api"], "openai");
  EXPECT_NE(verdict["refused"][0]["detail"].get<std::string>().find("logprobs"), std::string::npos);
  EXPECT_NE(verdict["refused"][1]["detail"].get<std::string>().find("422"), std::string::npos);
  // TGI's /info is part of the identity: model id, revision, limits.
  EXPECT_EQ(config["backend"]["endpoint"]["endpoints"][0]["info"]["max_total_tokens"], 4096);
  EXPECT_EQ(tgi.stats()["per_path"].value("/v1/completions", 0), 1) << "only the probe asks for echo";
}

TEST(NativeLogprobs, LoglikWhereNoShapeWorksIsRefusedBeforeTheRun) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 4);
  MockServer llama("--flavor llama.cpp");
  auto r = run_keval(global + " run --tasks mock_mc --backend openai-completions --model m --mc-mode loglik --base-url " +
                     llama.url() + " --no-progress --db " + shell_quote(dir / "k.db"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(llama.url()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("logprobs"), std::string::npos) << r.err;  // what the server returned
  EXPECT_EQ(llama.stats()["total"], 1) << "one probe request, nothing of the run";
  auto forced = run_keval(global + " run --tasks mock_mc --backend openai-completions --model m --logprobs-api tgi "
                          "--mc-mode loglik --base-url " + llama.url() + " --no-progress --db " + shell_quote(dir / "k.db"));
  EXPECT_EQ(forced.exit_code, 2);
  EXPECT_NE(forced.err.find("/generate: HTTP 404"), std::string::npos) << forced.err;
  auto wrong = run_keval(global + " run --tasks mock_mc --backend openai-completions --model m --logprobs-api vllm "
                         "--base-url " + llama.url() + " --no-progress --db " + shell_quote(dir / "k.db"));
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("--logprobs-api 'vllm'"), std::string::npos) << wrong.err;
  auto chat = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --logprobs-api sglang --base-url " +
                        llama.url() + " --no-progress --db " + shell_quote(dir / "k.db"));
  EXPECT_EQ(chat.exit_code, 2);
  EXPECT_NE(chat.err.find("openai-completions"), std::string::npos) << chat.err;
}

TEST(ContextBeforeTheRun, PromptsLongerThanALlamaCppSlotStopTheRunBeforeAnythingIsSent) {
  ScratchDir dir;
  // 4 slots share -c 240: 60 tokens each. KoBEST BoolQ's passages are longer; COPA's fit.
  MockServer llama("--flavor llama.cpp --ctx-size 240 --slots 4");
  auto r = run_keval("run --tasks kobest_boolq,kobest_copa --limit 10 --num-fewshot 0 --backend openai-chat --model m "
                     "--no-progress --base-url " + llama.url() + " --db " + shell_quote(dir / "k.db"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("kobest_boolq: the longest prompt is"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("kobest_copa:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("against 60"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--parallel"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("-c "), std::string::npos) << r.err;
  EXPECT_EQ(llama.stats()["total"], 0) << "nothing may be sent";
  EXPECT_LE(llama.stats()["per_path"].value("/tokenize", 0), 6) << "only the longest prompts are counted";
  EXPECT_TRUE(run_config(dir / "k.db").is_null());
}

TEST(ContextBeforeTheRun, VllmCountsTheTokensToGenerateToo) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 6);
  MockServer vllm("--flavor vllm --max-model-len 64");
  const std::string base = global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress "
                           "--base-url " + vllm.url() + " --db " + shell_quote(dir / "k.db");
  auto over = run_keval(base + " --max-tokens 60");
  EXPECT_EQ(over.exit_code, 2) << over.err;
  EXPECT_NE(over.err.find("+ 60 to generate against 64"), std::string::npos) << over.err;
  EXPECT_NE(over.err.find("--max-model-len"), std::string::npos) << over.err;
  auto fits = run_keval(base + " --max-tokens 8");
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
}

TEST(ContextBeforeTheRun, DryRunEstimatesTokensWhereTheServerCounts) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 6);
  MockServer vllm("--flavor vllm");
  MockServer plain;
  auto plan = [&](const MockServer& m) {
    auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --dry-run --json "
                       "--base-url " + m.url());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  };
  const auto counted = plan(vllm);
  ASSERT_TRUE(counted["tasks"][0].contains("tokens")) << counted.dump();
  // The mock's tokens are space-separated words; each question has between 3 and 40 of them.
  const long long tokens = counted["tasks"][0]["tokens"];
  EXPECT_GE(tokens, 6 * 3);
  EXPECT_LE(tokens, 6 * 40);
  EXPECT_EQ(counted["total"]["tokens"], tokens);
  EXPECT_EQ(vllm.stats()["total"], 0) << "a dry run sends the model nothing";
  EXPECT_FALSE(plan(plain)["tasks"][0].contains("tokens")) << "a server without /tokenize gives no estimate";
}

// Judge prompts are checked at plan time with the answers left empty (LogicKor's judge template
// with its longest question): one that cannot fit even so stops the run; one that may not fit
// once the answers are in is a warning.
TEST(ContextBeforeTheRun, JudgePromptsAreCheckedAgainstTheJudgesContext) {
  ScratchDir dir;
  MockServer model;
  auto run = [&](const MockServer& judge, const std::string& name) {
    return run_keval("run --tasks logickor --limit 2 --backend openai-chat --model m --base-url " + model.url() +
                     " --judge-backend openai-chat --judge-model j --judge-base-url " + judge.url() + " --no-progress --name " +
                     name + " --db " + shell_quote(dir / "k.db"));
  };
  MockServer small("--flavor llama.cpp --ctx-size 800 --slots 4");  // 200 tokens a slot
  auto refused = run(small, "small");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("the judge prompts of 1 task do not fit"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("logickor: the longest prompt is"), std::string::npos) << refused.err;
  EXPECT_EQ(model.stats()["total"], 0) << "nothing is sent to the model either";
  EXPECT_EQ(small.stats()["total"], 0);

  MockServer larger("--flavor llama.cpp --ctx-size 2000 --slots 4");  // the template fits, long answers may not
  auto warned = run(larger, "larger");
  EXPECT_NE(warned.err.find("warning: judge prompts of logickor"), std::string::npos) << warned.err;
  EXPECT_GT(model.stats()["total"], 0);
}

TEST(ContextExceeded, ARefusedPromptIsItsOwnFailureAndResumeIsNotOffered) {
  ScratchDir dir;
  // No /tokenize: the check cannot count, so the server's own refusal is what the run meets.
  MockServer llama("--flavor llama.cpp --ctx-size 240 --slots 4 --no-tokenize");
  auto r = run_keval("run --tasks kobest_boolq,kobest_copa --limit 10 --num-fewshot 0 --backend openai-chat --model m "
                     "--no-progress --base-url " + llama.url() + " --db " + shell_quote(dir / "k.db"));
  const long long refused = count_rows(dir / "k.db", "SELECT COUNT(*) FROM responses WHERE failure_kind = 'context_exceeded'");
  EXPECT_GT(refused, 0) << r.out << r.err;
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT COUNT(*) FROM responses WHERE status != 'ok' AND failure_kind != 'context_exceeded'"), 0);
  EXPECT_EQ(llama.stats()["total"], 20) << "a refusal of the context is never sent again";
  const std::string said = r.out + r.err;
  EXPECT_NE(said.find(std::to_string(refused) + " samples were refused as longer than the context"), std::string::npos) << said;
  EXPECT_NE(said.find("--resume cannot help"), std::string::npos) << said;
  EXPECT_EQ(said.find("retries them"), std::string::npos) << said;

  // Every request refused: the run has no answer, and the end says what to change.
  MockServer tiny("--flavor llama.cpp --ctx-size 8 --slots 4 --no-tokenize");
  auto none = run_keval("run --tasks kobest_copa --limit 4 --backend openai-chat --model m --no-progress --base-url " +
                        tiny.url() + " --db " + shell_quote(dir / "tiny.db"));
  EXPECT_EQ(none.exit_code, 1) << none.err;
  EXPECT_NE(none.err.find("larger context"), std::string::npos) << none.err;
  EXPECT_EQ(none.err.find("asks again"), std::string::npos) << none.err;
}

TEST(MockServers, TokenizeAndContextRefusalsInEachServersShape) {
  const std::string text = "대한민국의 수도는 서울이다";  // three tokens for the mock
  MockServer llama("--flavor llama.cpp --ctx-size 16 --slots 4");  // 4 tokens a slot
  auto t = post(root(llama) + "/tokenize", {{"content", text}, {"add_special", true}});
  EXPECT_EQ(t.status, 200);
  EXPECT_EQ(t.body["tokens"].size(), 3u);
  auto refused = post(llama.url() + "/completions", {{"model", "m"}, {"prompt", text}, {"max_tokens", 1}});
  EXPECT_EQ(refused.status, 200) << "3 tokens fit a slot of 4";
  refused = post(llama.url() + "/completions", {{"model", "m"}, {"prompt", text + " 정말"}, {"max_tokens", 1}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body["error"]["type"], "exceed_context_size_error");
  EXPECT_EQ(refused.body["error"]["n_ctx"], 4);
  EXPECT_EQ(refused.body["error"]["n_prompt_tokens"], 4);
  // echo accepted, prompt log-probs not given.
  auto echo = post(llama.url() + "/completions", {{"model", "m"}, {"prompt", "가"}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}});
  EXPECT_EQ(echo.status, 200);
  EXPECT_FALSE(echo.body["choices"][0]["logprobs"].contains("tokens"));

  MockServer vllm("--flavor vllm --max-model-len 5");
  auto counted = post(root(vllm) + "/tokenize", {{"model", "m"}, {"prompt", text}});
  EXPECT_EQ(counted.body["count"], 3);
  EXPECT_EQ(counted.body["max_model_len"], 5);
  auto over = post(vllm.url() + "/chat/completions", {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}, {"max_tokens", 3}});
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(over.body["error"]["message"].get<std::string>().find("maximum context length is 5 tokens"), std::string::npos);

  MockServer sglang("--flavor sglang --max-model-len 5");
  EXPECT_EQ(post(root(sglang) + "/v1/tokenize", {{"prompt", text}}).body["count"], 3);
  auto scored = post(root(sglang) + "/generate", {{"text", text}, {"return_logprob", true}, {"logprob_start_len", 0},
                                                  {"sampling_params", {{"max_new_tokens", 0}}}});
  ASSERT_EQ(scored.status, 200);
  ASSERT_EQ(scored.body["meta_info"]["input_token_logprobs"].size(), 3u);
  EXPECT_TRUE(scored.body["meta_info"]["input_token_logprobs"][0][0].is_null());
  auto long_input = post(root(sglang) + "/generate", {{"text", text}, {"sampling_params", {{"max_new_tokens", 3}}}});
  EXPECT_EQ(long_input.status, 400);
  EXPECT_NE(long_input.body["message"].get<std::string>().find("longer than the model's context length"), std::string::npos);

  MockServer tgi("--flavor tgi --max-model-len 5");
  auto pieces = post(root(tgi) + "/tokenize", {{"inputs", text}});
  ASSERT_TRUE(pieces.body.is_array());
  EXPECT_EQ(pieces.body.size(), 3u);
  EXPECT_EQ(pieces.body[1]["start"], std::string("대한민국의").size());
  auto prefill = post(root(tgi) + "/generate", {{"inputs", text}, {"parameters", {{"max_new_tokens", 1}, {"details", true},
                                                                                  {"decoder_input_details", true}}}});
  ASSERT_EQ(prefill.status, 200);
  EXPECT_EQ(prefill.body["details"]["prefill"].size(), 3u);
  auto too_long = post(root(tgi) + "/generate", {{"inputs", text}, {"parameters", {{"max_new_tokens", 3}}}});
  EXPECT_EQ(too_long.status, 422);
  EXPECT_EQ(too_long.body["error_type"], "validation");
}

} // namespace
} // namespace keval
