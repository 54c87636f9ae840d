// RunConfig and BackendConfig: the stored JSON round-trips, keeps the byte format earlier runs
// stored, and hashes only what decides results; the command line declares every backend option
// for the model and the judge alike.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backend_flags.h"
#include "keval_version.h"
#include "run_config.h"
#include "support/cli.h"
#include "support/errors.h"

namespace keval {
namespace {

using testing::expect_input_error;
using testing::run_keval;
using testing::ScratchDir;
using testing::write_file;

BackendConfig http_backend() {
  BackendConfig b;
  b.kind = "openai-chat";
  b.model = "exaone-3.5";
  b.base_urls = {"http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"};
  b.headers = {"Authorization: Bearer sk-secret", " X-Team : 평가"};
  b.max_tokens = 512;
  b.temperature = 0.2;
  b.model_id = "exaone-3.5-7.8b";
  b.concurrency = 64;
  b.timeout = 42.5;
  b.max_retries = 2;
  b.max_response_bytes = 1 << 20;
  b.rps = 7.5;
  return b;
}

TEST(RunConfig, BackendRoundTripsWithHeadersGivenAgain) {
  const BackendConfig b = http_backend();
  const nlohmann::json entry = b.to_json();
  EXPECT_EQ(entry.at("header_names"), nlohmann::json({"Authorization", "X-Team"}));
  EXPECT_EQ(entry.dump().find("sk-secret"), std::string::npos) << "a header value is never stored";
  EXPECT_FALSE(entry.contains("concurrency")) << "execution settings are stored apart";
  const BackendConfig back = BackendConfig::from_json(entry, b.execution_json(), b.headers, false);
  EXPECT_EQ(back, b);
}

TEST(RunConfig, ReplayRecordsItsFileAndRefusesAChangedOne) {
  ScratchDir dir;
  write_file(dir / "answers.jsonl", R"({"task": "kobest_copa", "id": "1", "response": "1번"})" "\n");
  BackendConfig b;
  b.kind = "replay";
  b.responses_file = dir / "answers.jsonl";
  const nlohmann::json entry = b.to_json();
  EXPECT_EQ(entry.at("responses_sha256").get<std::string>().size(), 64u);
  EXPECT_EQ(BackendConfig::from_json(entry, b.execution_json(), {}, false), b);
  write_file(dir / "answers.jsonl", R"({"task": "kobest_copa", "id": "1", "response": "2번"})" "\n");
  EXPECT_EQ(expect_input_error([&] { BackendConfig::from_json(entry, {}, {}, false); }),
            dir / "answers.jsonl" + " changed since the run started; start a new run instead");
}

TEST(RunConfig, HeaderNamesAreAskedForAgainByTheirFlag) {
  const nlohmann::json entry = http_backend().to_json();
  EXPECT_EQ(expect_input_error([&] { BackendConfig::from_json(entry, {}, {}, false); }),
            R"(the run was sent with --header ["Authorization","X-Team"]; give the headers again with --resume )"
            "(their values are not stored)");
  EXPECT_NE(expect_input_error([&] { BackendConfig::from_json(entry, {}, {}, true); }).find("sent with --judge-header"),
            std::string::npos);
}

RunConfig judged_run() {
  RunConfig c;
  c.tasks = {"logickor", "kobest_copa"};
  c.backend = http_backend();
  BackendConfig judge;
  judge.kind = "exec";
  judge.command = "python3 judge.py";
  judge.judge = true;
  judge.share_execution(c.backend);
  c.judge = judge;
  c.limit = 20;
  c.num_fewshot = 3;
  c.fewshot_seed = 99;
  c.mc_mode = "generate";
  c.keep_think = true;
  c.name = "exaone-nightly";
  c.shard = ShardSpec{1, 4};
  c.max_failures = "5%";
  c.use_cache = false;
  return c;
}

TEST(RunConfig, RunRoundTrips) {
  const RunConfig c = judged_run();
  const nlohmann::json stored = c.to_json();
  const RunConfig back = RunConfig::from_json(stored, {"exaone-nightly", c.backend.headers, {}});
  EXPECT_EQ(back, c);
  // The judge shares the model's execution settings but its --rps.
  EXPECT_EQ(back.judge->concurrency, 64);
  EXPECT_EQ(back.judge->rps, 0);
  EXPECT_TRUE(back.judge->judge);
}

TEST(RunConfig, StoredBytesAreThoseEarlierRunsStored) {
  // The configuration `keval run --tasks kobest_copa --backend random --limit 5` stored before
  // the configuration had a type, and what outside tools read.
  RunConfig c;
  c.tasks = {"kobest_copa"};
  c.backend.kind = "random";
  c.limit = 5;
  const std::string expected =
      R"({"backend":{"kind":"random","model":"","seed":1234},"execution":{"cache":true,"concurrency":16,)"
      R"("max_failures":"","max_response_bytes":16777216,"max_retries":5,"rps":0.0,"timeout":300.0},)"
      R"("extractor_version":"2","fewshot_seed":1234,"keep_think":false,"keval_version":")" +
      std::string(k_version) + R"(","limit":5,"mc_mode":"auto","num_fewshot":null,"requested":["kobest_copa"]})";
  EXPECT_EQ(c.to_json().dump(), expected);
}

TEST(RunConfig, AnOlderRunWithoutExecutionSettingsGetsTheDefaults) {
  nlohmann::json stored = RunConfig{}.to_json();
  stored["tasks"] = nlohmann::json::array({{{"name", "kobest_copa"}}, {{"name", "kobest_hellaswag"}}});
  stored["backend"] = {{"kind", "random"}, {"model", ""}};
  stored.erase("execution");
  stored.erase("fewshot_seed");  // fine without few-shot examples
  const RunConfig back = RunConfig::from_json(stored, {"old", {}, {}});
  EXPECT_EQ(back.tasks, (std::vector<std::string>{"kobest_copa", "kobest_hellaswag"})) << "the resolved tasks, not those requested";
  EXPECT_EQ(back.backend.concurrency, 16);
  EXPECT_EQ(back.backend.timeout, 300);
  EXPECT_EQ(back.backend.max_retries, 5);
  EXPECT_TRUE(back.use_cache);
  stored["num_fewshot"] = 5;
  EXPECT_NE(expect_input_error([&] { RunConfig::from_json(stored, {"old", {}, {}}); })
                .find("run 'old' took its few-shot examples in file order"),
            std::string::npos);
}

TEST(RunConfig, OnlyDecidingSettingsChangeTheRunKey) {
  const RunConfig base = judged_run();
  const std::string key = config_hash(base.to_json());
  EXPECT_EQ(config_hash(judged_run().to_json()), key) << "the same command gives the same key";
  auto key_with = [&](const std::function<void(RunConfig&)>& change) {
    RunConfig c = base;
    change(c);
    return config_hash(c.to_json());
  };
  EXPECT_EQ(key_with([](RunConfig& c) { c.name = "another"; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.shard = ShardSpec{3, 4}; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.shard.reset(); }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.backend.concurrency = 256; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.backend.timeout = 10; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.backend.rps = 1; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.max_failures = "3"; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.use_cache = true; }), key);
  EXPECT_EQ(key_with([](RunConfig& c) { c.backend.headers = {"Authorization: Bearer other", "X-Team: 다른 팀"}; }), key)
      << "a header's value is not the run's";
  EXPECT_NE(key_with([](RunConfig& c) { c.backend.headers = {"Authorization: Bearer sk-secret"}; }), key)
      << "its name is";
  EXPECT_NE(key_with([](RunConfig& c) { c.limit = 21; }), key);
  EXPECT_NE(key_with([](RunConfig& c) { c.backend.model = "exaone-4"; }), key);
  EXPECT_NE(key_with([](RunConfig& c) { c.backend.temperature = 0.0; }), key);
  EXPECT_NE(key_with([](RunConfig& c) { c.mc_mode = "auto"; }), key);
  EXPECT_NE(key_with([](RunConfig& c) { c.keep_think = false; }), key);
  EXPECT_NE(key_with([](RunConfig& c) { c.judge->command = "python3 other_judge.py"; }), key);
  EXPECT_NE(key_with([](RunConfig& c) { c.judge.reset(); }), key);
}

TEST(RunConfig, TheSameCommandPlansTheSameRunKey) {
  auto key = [](const std::string& extra) {
    auto r = run_keval("run --tasks kobest_copa --backend random --limit 3 --dry-run --json" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out).at("run_key").get<std::string>();
  };
  const std::string first = key("");
  EXPECT_EQ(first.size(), 64u);
  EXPECT_EQ(key(""), first);
  EXPECT_EQ(key(" --concurrency 200 --timeout 9 --name nightly --max-failures 10%"), first);
  EXPECT_NE(key(" --seed 7"), first);
}

TEST(BackendFlags, EveryBackendOptionHasItsJudgeTwin) {
  CLI::App app;
  BackendConfig model, judge;
  const auto model_options = cli::add_backend_flags(app, model, cli::BackendRole::model);
  const auto judge_options = cli::add_backend_flags(app, judge, cli::BackendRole::judge);
  ASSERT_EQ(model_options.size(), judge_options.size());
  ASSERT_GE(model_options.size(), 7u);
  std::string line;
  for (size_t i = 0; i < model_options.size(); ++i) {
    const std::string name = model_options[i]->get_lnames().front();
    EXPECT_EQ(judge_options[i]->get_lnames().front(), "judge-" + name);
    line += " --" + name + " v" + std::to_string(i) + " --judge-" + name + " j" + std::to_string(i);
  }
  // Each pair binds its own role's configuration.
  app.parse(line.substr(1), false);
  EXPECT_EQ(model.kind, "v0");
  EXPECT_EQ(judge.kind, "j0");
  EXPECT_EQ(model.model, "v1");
  EXPECT_EQ(judge.model, "j1");
  EXPECT_EQ(judge.headers, std::vector<std::string>{"j" + std::to_string(model_options.size() - 1)});
  EXPECT_TRUE(model.headers.size() == 1 && judge.base_urls.size() == 1 && model.responses_file != judge.responses_file);

  // The commands that take a judge declare every twin; `keval run` the model's too.
  CLI::App names;
  BackendConfig unused;
  auto run_help = run_keval("help run").out, pairwise_help = run_keval("help pairwise").out;
  for (const CLI::Option* option : cli::add_backend_flags(names, unused, cli::BackendRole::model)) {
    const std::string name = option->get_lnames().front();
    EXPECT_NE(run_help.find("--" + name + " "), std::string::npos) << name;
    EXPECT_NE(run_help.find("--judge-" + name + " "), std::string::npos) << name;
    EXPECT_NE(pairwise_help.find("--judge-" + name + " "), std::string::npos) << name;
  }
}

TEST(BackendFlags, KindsAndTheirHelpComeFromTheRegistry) {
  const auto kinds = registered_backends();
  ASSERT_GE(kinds.size(), 5u);
  EXPECT_EQ(kinds.front().kind, "random");
  EXPECT_FALSE(kinds.front().can_judge);
  // The built-in kinds come first, in the order registered (a test may register more after them:
  // docs/extending.md's example backend).
  EXPECT_EQ(cli::backend_kind_list(cli::BackendRole::model, ", ").rfind("random, replay, openai-chat, openai-completions, exec", 0), 0u);
  EXPECT_EQ(cli::backend_kind_list(cli::BackendRole::judge, ", ").rfind("replay, openai-chat, openai-completions, exec", 0), 0u);
  const auto run_help = run_keval("help run").out, pairwise_help = run_keval("help pairwise").out;
  for (const auto& k : kinds) {
    if (k.kind == "fixed") continue;  // registered by the extending test in this process, not by keval
    EXPECT_FALSE(k.description.empty()) << k.kind;
    EXPECT_NE(run_help.find(k.description), std::string::npos) << k.kind << "\n" << run_help;
    EXPECT_EQ(pairwise_help.find(k.description) != std::string::npos, k.can_judge) << k.kind << "\n" << pairwise_help;
  }
  // A missing --backend names the registered kinds.
  auto r = run_keval("run --tasks kobest_copa");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--backend (random, replay, openai-chat, openai-completions, exec)"), std::string::npos) << r.err;
  r = run_keval("run --tasks komt_bench --backend random --judge-backend random --limit 1 --dry-run");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--judge-backend random cannot judge; use replay, openai-chat, openai-completions or exec"),
            std::string::npos)
      << r.err;
}

} // namespace
} // namespace keval
