// Golden results: a fixed set of runs, covering every scorer, every backend kind that works
// offline (random, replay, exec, openai-chat and openai-completions against the mock server) and
// the judge (replay and HTTP), whose `keval results --json` must stay byte-identical to the
// files in tests/golden/expected/ once the values that differ from one run to the next (run id,
// config hash, times, durations, paths) are blanked. A change of any score, count or interval
// shows here.
//
// Regenerate after a deliberate change of results (and say in the commit which lines changed
// and why):
//   KEVAL_UPDATE_GOLDEN=1 build/tests/keval_golden_tests
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/mock.h"
#include "support/cli.h"

namespace keval {
namespace {

using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;

const std::string k_golden_dir = KEVAL_SOURCE_DIR "/tests/golden";

// What differs between two runs of one command: the run's id and config hash (the run key may
// change by design), and anywhere in the document a time, a duration or a path (a key named
// *_at, or holding latency, seconds, duration, per_second, elapsed or path, or db).
const std::vector<std::string> k_volatile_run_fields = {"id", "config_hash"};

bool is_volatile_key(const std::string& key) {
  if (key.size() > 3 && key.compare(key.size() - 3, 3, "_at") == 0) return true;
  if (key == "db") return true;
  for (const char* part : {"latency", "seconds", "duration", "per_second", "elapsed", "path"})
    if (key.find(part) != std::string::npos) return true;
  return false;
}

void blank_volatile(nlohmann::json& j) {
  if (j.is_array())
    for (auto& item : j) blank_volatile(item);
  if (!j.is_object()) return;
  for (auto& [key, value] : j.items()) {
    if (is_volatile_key(key) && !value.is_null()) value = "<blanked>";
    else blank_volatile(value);
  }
}

bool updating() {
  const char* v = std::getenv("KEVAL_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

std::string normalised_results(const std::string& db, const std::string& run, const std::string& global_options) {
  auto r = run_keval(global_options + "results --json --db " + shell_quote(db) + " --run " + run);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return "unparsable results: " + r.out;
  for (const auto& field : k_volatile_run_fields)
    if (j["run"].contains(field)) j["run"][field] = "<blanked>";
  blank_volatile(j);
  return j.dump(2) + "\n";
}

// Runs `keval run ARGS --name NAME --db DB`, expects `exit_code` (1 where a replay file lacks
// answers on purpose: they are failed, not scored, and the run says so), then compares (or, with
// KEVAL_UPDATE_GOLDEN=1, writes) tests/golden/expected/NAME.json.
void check_golden(const std::string& name, const std::string& args, int exit_code = 0,
                  const std::string& global_options = "") {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  auto r = run_keval(global_options + "run " + args + " --no-progress --concurrency 4 --name " + name + " --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, exit_code) << r.err;
  const std::string actual = normalised_results(db, name, global_options);
  const std::filesystem::path golden = k_golden_dir + "/expected/" + name + ".json";
  if (updating()) {
    write_file(golden, actual);
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " missing; run with KEVAL_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, slurp(golden)) << "results of run " << name << " differ from " << golden
                                   << " (regenerate with KEVAL_UPDATE_GOLDEN=1 only for a deliberate change)";
}

std::string input(const std::string& file) { return shell_quote(k_golden_dir + "/inputs/" + file); }

// Every built-in task's scorer (multiple_choice, kobbq, korquad, similarity, dialogue), groups
// (kobest, kmmlu: the mean over subjects and the sample-weighted aggregate), no judge.
TEST(Golden, RandomEveryScorerAndGroups) {
  check_golden("random_all",
               "--backend random --seed 7 --limit 4 --tasks kobest,kmmlu,click,kice_2023,csatqa_188,haerae_gk,kobbq,"
               "korquad_v1,kornli,klue_nli,korsts,klue_sts,ko_commongen_v2,logickor,komt_bench");
}

// Recorded answers in generation mode: right, wrong, unparsable and missing answers (failed,
// not wrong) for every scorer, and the dialogue tasks judged by recorded verdicts (readable,
// unreadable and missing), LogicKor's and MT-Bench's protocols both.
TEST(Golden, ReplayGenerateWithReplayJudge) {
  check_golden("replay_generate",
               "--backend replay --responses " + input("generate.jsonl") +
                   " --mc-mode generate --limit 6 --tasks kobest_copa,kobest_hellaswag,kice_2023,kobbq,korquad_v1,"
                   "klue_sts,korsts,logickor,komt_bench --judge-backend replay --judge-responses " +
                   input("judge.jsonl"),
               1);
}

// Recorded log-probabilities: acc and acc_norm differ.
TEST(Golden, ReplayLoglikelihood) {
  check_golden("replay_loglik", "--backend replay --responses " + input("loglik.jsonl") +
                                    " --mc-mode loglik --limit 6 --tasks kobest_copa,kobest_hellaswag,kobbq",
               1);
}

// The numeric scorer (no built-in task uses it): a task tree of its own.
TEST(Golden, ReplayNumeric) {
  check_golden("replay_numeric", "--backend replay --responses " + input("numeric.jsonl") + " --tasks golden_numeric", 1,
               "--tasks-dir " + input("tasks") + " --datasets-dir " + input("datasets") + " ");
}

TEST(Golden, ExecGenerate) {
  check_golden("exec_generate", "--backend exec --cmd " +
                                    shell_quote("python3 " + std::string(KEVAL_SOURCE_DIR) + "/tests/exec_model.py") +
                                    " --mc-mode generate --limit 5 --tasks kobest_copa,kmmlu_accounting,korquad_v1");
}

TEST(Golden, ExecLoglikelihood) {
  check_golden("exec_loglik", "--backend exec --cmd " +
                                  shell_quote("python3 " + std::string(KEVAL_SOURCE_DIR) + "/tests/exec_model.py") +
                                  " --mc-mode loglik --limit 5 --tasks kobest_copa,kobest_hellaswag");
}

TEST(Golden, OpenAIChatWithHttpJudge) {
  MockServer model;
  MockServer judge("--replies " + input("judge_rules.jsonl"));
  ASSERT_GT(model.port(), 0);
  ASSERT_GT(judge.port(), 0);
  check_golden("openai_chat",
               "--backend openai-chat --model golden --base-url " + model.url() +
                   " --limit 4 --tasks kobest_copa,kmmlu_accounting,korquad_v1,klue_sts,logickor_keval,komt_bench"
                   " --judge-backend openai-chat --judge-model judge --judge-base-url " + judge.url());
}

TEST(Golden, OpenAICompletionsLoglikelihood) {
  MockServer model;
  ASSERT_GT(model.port(), 0);
  check_golden("openai_completions", "--backend openai-completions --model golden --base-url " + model.url() +
                                         " --mc-mode loglik --limit 4 --tasks kobest_copa,kobest_hellaswag,haerae_gk");
}

TEST(Golden, OpenAICompletionsGenerate) {
  MockServer model;
  ASSERT_GT(model.port(), 0);
  check_golden("openai_completions_generate", "--backend openai-completions --model golden --base-url " + model.url() +
                                                  " --mc-mode generate --limit 4 --tasks kobest_copa,korquad_v1");
}

} // namespace
} // namespace keval
