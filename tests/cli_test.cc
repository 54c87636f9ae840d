// End to end: the keval binary as a user runs it, on the real tasks and datasets.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <csignal>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;

nlohmann::json results_of(const std::string& db, const std::string& run = "") {
  auto r = run_keval("results --json --db " + shell_quote(db) + (run.empty() ? "" : " --run " + run));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

const nlohmann::json* find_metric(const nlohmann::json& results, const std::string& task, const std::string& metric) {
  for (const auto& t : results["tasks"])
    if (t["task"] == task && t["metric"] == metric) return &t;
  return nullptr;
}

std::vector<nlohmann::json> samples(const std::string& task, int limit) {
  auto r = run_keval("samples --json --task " + task + " --limit " + std::to_string(limit));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> out;
  std::stringstream ss(r.out);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(Cli, TasksListsEverySuite) {
  auto r = run_keval("tasks --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::set<std::string> names;
  for (const auto& t : j["tasks"]) {
    names.insert(t["name"]);
    EXPECT_FALSE(t["licence"].get<std::string>().empty()) << t["name"];
    EXPECT_GT(t["samples"].get<int>(), 0);
  }
  for (const char* n : {"kobest_copa", "kmmlu_accounting", "haerae_gk", "csatqa_188", "kice_2023", "korquad_v1", "kornli",
                        "klue_nli", "korsts", "klue_sts", "kobbq", "ko_commongen_v2", "logickor", "komt_bench"})
    EXPECT_TRUE(names.count(n)) << n;
}

TEST(Cli, SamplesJsonHasTheSpecFields) {
  auto s = samples("kmmlu_accounting", 2);
  ASSERT_EQ(s.size(), 2u);
  for (const char* field : {"task", "id", "prompt", "messages", "choices", "choice_labels", "gold"})
    EXPECT_TRUE(s[0].contains(field)) << field;
  EXPECT_EQ(s[0]["choice_labels"], nlohmann::json({"A", "B", "C", "D"}));
  auto d = samples("logickor", 1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["turns"].size(), 2u);
}

TEST(Cli, RandomRunsEveryTaskWithLimit) {
  ScratchDir dir;
  auto r = run_keval("run --backend random --limit 3 --no-progress --db " + dir / "k.db" +
                     " --tasks kobest,kmmlu,click,haerae_partial,csatqa_188,kice_2023,korquad_v1,kornli,klue_nli,korsts,klue_sts,kobbq,"
                     "ko_commongen_v2,logickor,komt_bench");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("run id: "), std::string::npos);
  auto results = results_of(dir / "k.db");
  EXPECT_EQ(results["run"]["status"], "complete");
  std::set<std::string> tasks;
  for (const auto& t : results["tasks"]) {
    tasks.insert(t["task"]);
    EXPECT_EQ(t["n_failed"], 0) << t["task"];
  }
  EXPECT_GT(tasks.size(), 80u);  // 5 kobest + 45 kmmlu + click + … + groups
  ASSERT_NE(find_metric(results, "kmmlu", "acc"), nullptr);
  EXPECT_EQ((*find_metric(results, "kmmlu", "acc"))["n"], 45 * 3);
}

TEST(Cli, SameCommandTwiceMakesTwoRuns) {
  ScratchDir dir;
  std::string cmd = "run --backend random --tasks kobest_copa --limit 20 --no-progress --db " + dir / "k.db";
  ASSERT_EQ(run_keval(cmd).exit_code, 0);
  ASSERT_EQ(run_keval(cmd).exit_code, 0);
  auto r = run_keval("runs --json --db " + dir / "k.db");
  auto runs = nlohmann::json::parse(r.out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_NE(runs[0]["id"], runs[1]["id"]);
  EXPECT_NE(runs[0]["name"], runs[1]["name"]);
  EXPECT_EQ(runs[0]["config_hash"], runs[1]["config_hash"]);  // same evaluation, two runs
  for (const auto& run : runs) EXPECT_EQ((*find_metric(results_of(dir / "k.db", run["id"]), "kobest_copa", "acc"))["n"], 20);
  // The same seed gives the same answers.
  EXPECT_EQ((*find_metric(results_of(dir / "k.db", runs[0]["id"]), "kobest_copa", "acc"))["value"],
            (*find_metric(results_of(dir / "k.db", runs[1]["id"]), "kobest_copa", "acc"))["value"]);
  // A name that exists is refused rather than mixed.
  ASSERT_EQ(run_keval(cmd + " --name nightly").exit_code, 0);
  auto again = run_keval(cmd + " --name nightly");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

// Replay fixtures whose responses give exactly known scores.
TEST(Cli, ReplayGivesExactlyKnownScores) {
  ScratchDir dir;
  std::string replay;
  // kobest_copa, generation mode: 7 right, 2 wrong, 1 unparsed -> acc 7/10, unparsed 1.
  auto copa = samples("kobest_copa", 10);
  for (size_t i = 0; i < copa.size(); ++i) {
    int gold = copa[i]["gold"];
    const auto& labels = copa[i]["choice_labels"];
    std::string response;
    if (i < 7) response = "정답은 " + labels[static_cast<size_t>(gold)].get<std::string>() + "번입니다.";
    else if (i < 9) response = labels[static_cast<size_t>(1 - gold)].get<std::string>();
    else response = "잘 모르겠습니다.";
    replay += nlohmann::json{{"task", "kobest_copa"}, {"id", copa[i]["id"]}, {"response", response}}.dump() + "\n";
  }
  // korquad_v1: gold, gold, gold, a partial answer, nothing -> EM 3/5; the first gold is
  // "1989년 2월 15일" (10 characters once spaces go) and "1989년 2월" shares 7 of them:
  // precision 1, recall 7/10, F1 = 14/17.
  auto korquad = samples("korquad_v1", 5);
  ASSERT_EQ(korquad[0]["gold"].is_array() ? korquad[0]["gold"][0] : korquad[0]["gold"], "1989년 2월 15일");
  for (size_t i = 0; i < korquad.size(); ++i) {
    const auto& gold = korquad[i]["gold"].is_array() ? korquad[i]["gold"][0] : korquad[i]["gold"];
    std::string response = i == 3 ? std::string("") : gold.get<std::string>();
    if (i == 0) response = "1989년 2월";
    replay += nlohmann::json{{"task", "korquad_v1"}, {"id", korquad[i]["id"]}, {"response", response}}.dump() + "\n";
  }
  // korsts: a linear function of the gold score -> Pearson = Spearman = 1; one sample has no line -> failed.
  auto sts = samples("korsts", 12);
  for (size_t i = 0; i + 1 < sts.size(); ++i) {
    double gold = sts[i]["gold"];
    replay += nlohmann::json{{"task", "korsts"}, {"id", sts[i]["id"]}, {"response", "유사도: " + std::to_string(gold * 0.5 + 1.0)}}.dump() + "\n";
  }
  write_file(dir.path() / "replay.jsonl", replay);
  auto r = run_keval("run --backend replay --responses " + dir / "replay.jsonl" +
                     " --tasks kobest_copa,korquad_v1,korsts --limit 10 --no-progress --db " + dir / "k.db");
  // The file lacks 5 of korquad_v1's samples: said at the start, and the run exits 1 with a hint
  // that can help (a file's gap is not fixed by --resume).
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("replay.jsonl has no answer for 5 of the run's 30 samples (korquad_v1 5 of 10)"), std::string::npos) << r.err;
  EXPECT_LT(r.err.find("has no answer for 5 of"), r.err.find("keval: ")) << "the warning comes before the end";
  EXPECT_NE(r.err.find("Add a line for each"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("--resume"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partial: 5 of 10 (50.0%)"), std::string::npos) << r.out;
  auto results = results_of(dir / "k.db");
  auto acc = *find_metric(results, "kobest_copa", "acc");
  EXPECT_DOUBLE_EQ(acc["value"].get<double>(), 0.7);
  EXPECT_EQ(acc["n"], 10);
  EXPECT_EQ(acc["n_unparsed"], 1);
  EXPECT_EQ(acc["n_failed"], 0);
  // korquad: limit 10 but only 5 lines: the other 5 samples failed, not wrong.
  auto em = *find_metric(results, "korquad_v1", "em");
  EXPECT_EQ(em["n_failed"], 5);
  EXPECT_EQ(em["n"], 5);
  EXPECT_NEAR(em["value"].get<double>(), 3.0 / 5, 1e-9);
  auto f1 = *find_metric(results, "korquad_v1", "f1");
  EXPECT_NEAR(f1["value"].get<double>(), (3 + 14.0 / 17) / 5, 1e-9);
  auto pearson = *find_metric(results, "korsts", "pearson");
  EXPECT_NEAR(pearson["value"].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR((*find_metric(results, "korsts", "spearman"))["value"].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(pearson["n_failed"], 0);  // limit 10 of 12 samples: all 10 have lines
  EXPECT_EQ(results["run"]["status"], "incomplete");
}

TEST(Cli, ReplayLogprobsScoreByLikelihood) {
  ScratchDir dir;
  auto copa = samples("kobest_copa", 4);
  std::string replay;
  for (size_t i = 0; i < copa.size(); ++i) {
    int gold = copa[i]["gold"];
    // Right on the first three, wrong on the last.
    bool right = i < 3;
    std::vector<double> lp = {-3.0, -3.0};
    lp[static_cast<size_t>(right ? gold : 1 - gold)] = -0.5;
    replay += nlohmann::json{{"task", "kobest_copa"}, {"id", copa[i]["id"]}, {"logprobs", lp}}.dump() + "\n";
  }
  write_file(dir.path() / "replay.jsonl", replay);
  auto r = run_keval("run --backend replay --responses " + dir / "replay.jsonl" +
                     " --tasks kobest_copa --limit 4 --mc-mode loglik --no-progress --db " + dir / "k.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_DOUBLE_EQ((*find_metric(results_of(dir / "k.db"), "kobest_copa", "acc"))["value"].get<double>(), 0.75);
}

TEST(Cli, LoglikModeWithoutLogprobsIsRefusedBeforeAnyRequest) {
  ScratchDir dir;
  write_file(dir.path() / "replay.jsonl", R"({"task": "kobest_copa", "id": "1", "response": "1"})" "\n");
  auto r = run_keval("run --backend replay --responses " + dir / "replay.jsonl" +
                     " --tasks kobest_copa --mc-mode loglik --no-progress --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("log-probabilities"), std::string::npos) << r.err;
}

TEST(Cli, MultiTurnReplay) {
  ScratchDir dir;
  auto d = samples("logickor", 2);
  std::string replay;
  for (const auto& s : d)
    replay += nlohmann::json{{"task", "logickor"}, {"id", s["id"]}, {"responses", {"첫 번째 답변입니다.", "두 번째 답변입니다."}}}.dump() + "\n";
  write_file(dir.path() / "replay.jsonl", replay);
  auto r = run_keval("run --backend replay --responses " + dir / "replay.jsonl" +
                     " --tasks logickor --limit 2 --no-progress --db " + dir / "k.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto share = *find_metric(results_of(dir / "k.db"), "logickor", "hangul_share");
  EXPECT_EQ(share["n"], 2);
  EXPECT_NEAR(share["value"].get<double>(), 1.0, 1e-9);
}

// Bad input: exit 2, a message naming the file, line or field, and no damage.
TEST(CliBadInput, UnknownTaskSuggests) {
  ScratchDir dir;
  auto r = run_keval("run --backend random --tasks kobest_cop --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'kobest_copa'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "k.db"));
}

TEST(CliBadInput, UnknownBackendSuggests) {
  ScratchDir dir;
  auto r = run_keval("run --backend replya --tasks kobest_copa --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'replay'"), std::string::npos) << r.err;
}

TEST(CliBadInput, MalformedTaskFile) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/t/bad.yaml", "task: bad\nsuite: t\nversion: 1\nlicence: x\nouput_type: generate\n");
  auto r = run_keval("--tasks-dir " + dir / "tasks" + " tasks");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tasks/t/bad.yaml:5: unknown key 'ouput_type'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'output_type'"), std::string::npos) << r.err;
}

TEST(CliBadInput, MissingDatasetFile) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task);
  auto r = run_keval("--tasks-dir " + dir / "tasks" + " --datasets-dir " + dir / "datasets" +
                     " run --backend random --tasks tiny --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tiny/data.jsonl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

TEST(CliBadInput, MalformedDatasetLine) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task);
  write_file(dir.path() / "datasets/tiny/data.jsonl",
             "{\"id\": \"1\", \"q\": \"하늘은?\", \"a\": \"파랗다\", \"b\": \"빨갛다\", \"gold\": 0}\n{\"id\": \"2\", \"q\": \"바다는\n");
  auto r = run_keval("--tasks-dir " + dir / "tasks" + " --datasets-dir " + dir / "datasets" +
                     " run --backend random --tasks tiny --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("data.jsonl:2: malformed JSON"), std::string::npos) << r.err;
}

TEST(CliBadInput, DatasetRowWithAnAnswerOutOfRange) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task);
  write_file(dir.path() / "datasets/tiny/data.jsonl",
             "{\"id\": \"1\", \"q\": \"하늘은?\", \"a\": \"파랗다\", \"b\": \"빨갛다\", \"gold\": 5}\n");
  auto r = run_keval("--tasks-dir " + dir / "tasks" + " --datasets-dir " + dir / "datasets" + " samples --task tiny");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("data.jsonl:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
}

TEST(CliBadInput, MalformedReplayLineLeavesTheDatabaseAlone) {
  ScratchDir dir;
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 5 --no-progress --db " + dir / "k.db").exit_code, 0);
  std::string before = run_keval("runs --json --db " + dir / "k.db").out;
  write_file(dir.path() / "replay.jsonl", "{\"task\": \"kobest_copa\", \"id\": \"1\", \"response\": \"1\"}\n{\"task\": \"kobest_copa\", \"id\": 2, \"respons\": \"x\"}\n");
  auto r = run_keval("run --backend replay --responses " + dir / "replay.jsonl" + " --tasks kobest_copa --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("replay.jsonl:2: unknown field 'respons'"), std::string::npos) << r.err;
  EXPECT_EQ(run_keval("runs --json --db " + dir / "k.db").out, before);
}

TEST(CliBadInput, DatabaseThatIsNotKevals) {
  ScratchDir dir;
  write_file(dir.path() / "notes.db", "이것은 데이터베이스가 아닙니다\n");
  for (const std::string& cmd : {"runs --db " + dir / "notes.db", "results --db " + dir / "notes.db",
                                 "run --backend random --tasks kobest_copa --limit 2 --db " + dir / "notes.db"}) {
    auto r = run_keval(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_NE(r.err.find("not a keval database"), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp(dir.path() / "notes.db"), "이것은 데이터베이스가 아닙니다\n");
}

TEST(CliBadInput, MissingDatabaseAndUnknownRun) {
  ScratchDir dir;
  EXPECT_EQ(run_keval("runs --db " + dir / "none.db").exit_code, 2);
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 2 --no-progress --db " + dir / "k.db").exit_code, 0);
  auto r = run_keval("results --run nosuchrun --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nosuchrun"), std::string::npos);
  EXPECT_EQ(run_keval("run --resume nosuchrun --db " + dir / "k.db").exit_code, 2);
}

TEST(CliBadInput, BadUsageExitsTwo) {
  EXPECT_EQ(run_keval("run --limit notanumber").exit_code, 2);
  EXPECT_EQ(run_keval("frobnicate").exit_code, 2);
  EXPECT_EQ(run_keval("run --help").exit_code, 0);
}

// kill -9 at several points, then --resume: the same scores as an uninterrupted run.
TEST(CliResume, KilledRunsResumeToIdenticalResults) {
  ScratchDir dir;
  const std::string args = "run --backend random --seed 7 --tasks kobest,kmmlu_law,kmmlu_math --no-progress";
  auto full = run_keval(args + " --db " + dir / "full.db");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto expected = results_of(dir / "full.db");
  int interrupted = 0;
  // Delays count from the moment the run is stored, so they land mid-run however loaded the machine is.
  for (int delay_ms : {0, 60, 250}) {
    std::string db = dir / ("killed" + std::to_string(delay_ms) + ".db");
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::string cmd = std::string("exec ") + KEVAL_BINARY + " " + args + " --db " + db + " >/dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Wait until the run is stored (its samples are built and checked first, which takes a
    // while in a sanitizer build), so that the delay lands while responses are being written.
    for (int waited = 0; waited < 60000; waited += 20) {
      if (std::filesystem::exists(db)) {
        auto listed = run_keval("runs --json --db " + db);
        if (listed.exit_code == 0 && !nlohmann::json::parse(listed.out).empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!std::filesystem::exists(db)) continue;  // killed before the database existed
    auto runs = run_keval("runs --json --db " + db);
    if (runs.err.find("no keval database") != std::string::npos) continue;  // killed while creating it
    ASSERT_EQ(runs.exit_code, 0) << runs.err;
    auto list = nlohmann::json::parse(runs.out);
    if (list.empty()) continue;
    if (list[0]["status"] == "running") ++interrupted;
    auto resumed = run_keval("run --no-progress --resume " + list[0]["id"].get<std::string>() + " --db " + db);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    auto got = results_of(db);
    EXPECT_EQ(got["run"]["status"], "complete");
    ASSERT_EQ(got["tasks"].size(), expected["tasks"].size());
    for (size_t i = 0; i < got["tasks"].size(); ++i) {
      EXPECT_EQ(got["tasks"][i]["task"], expected["tasks"][i]["task"]);
      EXPECT_EQ(got["tasks"][i]["value"], expected["tasks"][i]["value"]) << got["tasks"][i]["task"];
      EXPECT_EQ(got["tasks"][i]["n"], expected["tasks"][i]["n"]);
    }
    // Resuming a complete run sends nothing and changes nothing.
    auto again = run_keval("run --no-progress --resume " + list[0]["id"].get<std::string>() + " --db " + db);
    ASSERT_EQ(again.exit_code, 0);
    EXPECT_EQ(results_of(db)["tasks"], got["tasks"]);
  }
  EXPECT_GT(interrupted, 0) << "no kill landed mid-run; the delays need adjusting";
}

} // namespace
} // namespace keval
