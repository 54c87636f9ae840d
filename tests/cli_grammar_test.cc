// The command-line grammar (docs/cli.md) and the exit codes of runs that did not evaluate what
// they were asked to, through the keval binary as a user runs it.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::write_file;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(CliGrammar, BareKevalAndHelpListTheCommands) {
  auto bare = run_keval("");
  EXPECT_EQ(bare.exit_code, 2) << "no command is a usage error";
  auto help = run_keval("help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"tasks", "samples", "run", "runs", "results", "compare", "gate", "report", "pairwise"}) {
    EXPECT_NE(bare.err.find(std::string("\n  ") + command + " "), std::string::npos) << command << "\n" << bare.err;
    EXPECT_NE(help.out.find(std::string("\n  ") + command + " "), std::string::npos) << command << "\n" << help.out;
  }
  auto run_help = run_keval("help run");
  EXPECT_EQ(run_help.exit_code, 0);
  EXPECT_NE(run_help.out.find("--resume"), std::string::npos) << run_help.out;
  EXPECT_EQ(run_keval("help rnu").exit_code, 2);
}

TEST(CliGrammar, UnknownCommandsAndOptionsGetTheNearestName) {
  auto r = run_keval("rnu --tasks kobest_copa");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'run'?"), std::string::npos) << r.err;
  r = run_keval("run --limt 3 --tasks kobest_copa --backend random");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--limt'; did you mean '--limit'?"), std::string::npos) << r.err;
  r = run_keval("gate --baseline a --candidat b");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean '--candidate'?"), std::string::npos) << r.err;
  r = run_keval("--tasks-dri x tasks");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--tasks-dri' before the command; did you mean '--tasks-dir'?"), std::string::npos)
      << r.err;
  // A top-level option is known after the command too.
  r = run_keval("--tasks-dir " + shell_quote(testing::source_dir() + "/tasks") + " samples --task kobest_copa --limit 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliGrammar, EveryMissingOptionInOneMessage) {
  ScratchDir dir;
  auto r = run_keval("run --backend openai-chat --tasks kobest_copa --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing --base-url (the server's URL, e.g. http://127.0.0.1:8000/v1) and --model"), std::string::npos)
      << r.err;
  r = run_keval("run --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing --tasks"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" and --backend"), std::string::npos) << r.err;
  r = run_keval("run --tasks komt_bench --backend exec --judge-backend openai-chat --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2);
  for (const char* option : {"--cmd", "--judge-base-url", "--judge-model"})
    EXPECT_NE(r.err.find(option), std::string::npos) << option << ": " << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "k.db"));
}

TEST(CliGrammar, TaskAndTasksAreOneOptionAndSuitesSelectTheirTasks) {
  auto one = run_keval("samples --task kobest_copa --limit 1");
  auto other = run_keval("samples --tasks kobest_copa --limit 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, other.out);
  // Every suite name `keval tasks` shows selects exactly the tasks of that suite.
  auto listing = run_keval("tasks --json");
  ASSERT_EQ(listing.exit_code, 0);
  std::map<std::string, std::set<std::string>> suites;
  const auto tasks = nlohmann::json::parse(listing.out);
  for (const auto& t : tasks["tasks"]) suites[t["suite"].get<std::string>()].insert(t["name"].get<std::string>());
  // `keval tasks` lists the suites with their tasks.
  std::map<std::string, std::set<std::string>> listed;
  for (const auto& su : tasks["suites"])
    listed[su["name"].get<std::string>()] = su["tasks"].get<std::set<std::string>>();
  EXPECT_EQ(listed, suites);
  for (const char* suite : {"csat", "klue", "kor_nlu", "korquad"}) {
    ASSERT_TRUE(suites.count(suite)) << suite;
    auto r = run_keval(std::string("samples --json --limit 1 --tasks ") + suite);
    ASSERT_EQ(r.exit_code, 0) << suite << ": " << r.err;
    std::set<std::string> shown;
    for (const auto& s : json_lines(r.out)) shown.insert(s["task"]);
    EXPECT_EQ(shown, suites[suite]) << suite;
  }
  ScratchDir dir;
  auto r = run_keval("run --task klue --backend random --limit 2 --no-progress --db " + dir / "k.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("klue_nli"), std::string::npos);
  EXPECT_NE(r.out.find("klue_sts"), std::string::npos);
  r = run_keval("samples --task kor_nlx --limit 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'kor_nlu'"), std::string::npos) << r.err;
}

// Two runs, `a` then `b`: every command names them the same ways.
class RunNames : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char* name : {"a", "b"}) {
      auto r = run_keval(std::string("run --backend random --seed ") + (name[0] == 'a' ? "1" : "2") +
                         " --tasks kobest_copa --limit 20 --no-progress --name " + name + " --db " + db());
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  std::string db() const { return m_dir / "k.db"; }
  std::string keval(const std::string& args) {
    auto r = run_keval(args + " --db " + db());
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    return r.out;
  }
  ScratchDir m_dir;
};

TEST_F(RunNames, PositionalOrOptionSayTheSame) {
  EXPECT_EQ(keval("results a"), keval("results --run a"));
  EXPECT_EQ(keval("results latest"), keval("results b"));
  EXPECT_EQ(keval("results"), keval("results b"));
  EXPECT_NE(keval("results a"), keval("results b"));
  const std::string compare = keval("compare a b");
  EXPECT_EQ(compare, keval("compare --baseline a --candidate b"));
  EXPECT_EQ(compare, keval("compare --baseline a b"));
  EXPECT_EQ(compare, keval("compare a latest"));
  const std::string gate = keval("gate a b");
  EXPECT_EQ(gate, keval("gate --baseline a --candidate b"));
  EXPECT_NE(gate.find("kobest_copa"), std::string::npos) << gate;
}

TEST_F(RunNames, MissingExtraAndUnknownRunsAreUsageErrors) {
  auto r = run_keval("compare a --db " + db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing --candidate (CAND)"), std::string::npos) << r.err;
  r = run_keval("gate --db " + db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing --baseline (BASE) and --candidate (CAND)"), std::string::npos) << r.err;
  r = run_keval("compare a b a --db " + db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unexpected run 'a'"), std::string::npos) << r.err;
  r = run_keval("results --run c --db " + db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no run 'c'"), std::string::npos) << r.err;
}

TEST_F(RunNames, ResumeTakesLatest) {
  auto r = run_keval("run --resume latest --no-progress --db " + db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("name b "), std::string::npos) << r.out;
}

TEST(CliGrammar, PairwiseNamesRunsAndTheTaskTheSameWays) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  for (const std::string name : {"a", "b"}) {
    std::string answers;
    for (const char* id : {"81", "82"})
      answers += nlohmann::json{{"task", "komt_bench"}, {"id", id}, {"responses", {"모델 " + name + "의 첫 답", "모델 " + name + "의 둘째 답"}}}.dump() + "\n";
    write_file(dir.path() / (name + ".jsonl"), answers);
    auto r = run_keval("run --tasks komt_bench --limit 2 --backend replay --responses " + shell_quote(dir / (name + ".jsonl")) +
                       " --name " + name + " --no-progress --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  write_file(dir.path() / "pairs.jsonl", R"({"task": "komt_bench", "id": "81", "judge": ["[[A]]", "[[B]]", "[[A]]", "[[A]]"]})" "\n"
                                         R"({"task": "komt_bench", "id": "82", "judge": ["[[B]]", "[[A]]", "[[C]]", "[[C]]"]})" "\n");
  const std::string judge = " --json --no-progress --judge-backend replay --judge-responses " + shell_quote(dir / "pairs.jsonl") +
                            " --db " + shell_quote(db);
  auto positional = run_keval("pairwise a b" + judge);
  ASSERT_EQ(positional.exit_code, 0) << positional.err;
  EXPECT_EQ(nlohmann::json::parse(positional.out)["a"]["name"], "a");
  EXPECT_EQ(nlohmann::json::parse(positional.out)["overall"]["win"], 1);
  auto options = run_keval("pairwise --candidate a --baseline b --tasks komt_bench" + judge);
  ASSERT_EQ(options.exit_code, 0) << options.err;
  EXPECT_EQ(positional.out, options.out);
  auto latest = run_keval("pairwise a latest --task komt_bench" + judge);
  EXPECT_EQ(positional.out, latest.out);
  auto missing = run_keval("pairwise a --db " + shell_quote(db));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("missing --baseline (RUN_B)"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("missing --baseline (RUN_B) and --judge-backend"), std::string::npos) << missing.err;
}

TEST(CliGrammar, LimitBelowOneAndEmptyRunsAreRefused) {
  ScratchDir dir;
  for (const char* limit : {"0", "-1"}) {
    auto r = run_keval(std::string("run --backend random --tasks kobest_copa --limit ") + limit + " --db " + dir / "k.db");
    EXPECT_EQ(r.exit_code, 2) << limit;
    EXPECT_NE(r.err.find("--limit " + std::string(limit) + ": give 1 or more"), std::string::npos) << r.err;
    EXPECT_EQ(run_keval(std::string("samples --task kobest_copa --limit ") + limit).exit_code, 2) << limit;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "k.db"));
  // A task whose data holds no row would store an empty "complete" run.
  write_file(dir.path() / "tasks/empty.yaml", R"(task: empty
suite: test
version: 1
licence: test data
dataset: {file: empty/data.jsonl, format: jsonl, split: test}
id_field: id
output_type: multiple_choice
prompt: "{{q}}"
choices: ["{{a}}", "{{b}}"]
choice_labels: [A, B]
target: {field: gold, kind: index}
scorer: multiple_choice
metrics: [acc]
)");
  write_file(dir.path() / "datasets/empty/data.jsonl", "");
  auto r = run_keval("--tasks-dir " + dir / "tasks" + " --datasets-dir " + dir / "datasets" +
                     " run --backend random --tasks empty --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no sample to evaluate"), std::string::npos) << r.err;
  auto runs = run_keval("runs --json --db " + dir / "k.db");
  EXPECT_EQ(runs.exit_code, 0) << runs.err;
  EXPECT_EQ(nlohmann::json::parse(runs.out), nlohmann::json::array()) << "no run stored";
}

TEST(CliExit, EveryRequestFailedExitsOneAndSaysWhy) {
  ScratchDir dir;
  // Nothing listens on the discard port: every request fails to connect.
  auto r = run_keval("run --backend openai-chat --base-url http://127.0.0.1:9/v1 --model m --max-retries 0 "
                     "--tasks kobest_copa --limit 3 --no-progress --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("every request of run"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kobest_copa (3 samples, e.g. transport"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << "a server's failure can be retried: " << r.err;
  EXPECT_NE(r.out.find("partial: 0 of 3"), std::string::npos) << r.out;
}

TEST(CliExit, AJudgeThatNeverAnswersExitsOne) {
  ScratchDir dir;
  auto r = run_keval("run --tasks komt_bench --limit 2 --backend replay --responses " +
                     shell_quote(testing::source_dir() + "/examples/komt_answers.jsonl") +
                     " --judge-backend openai-chat --judge-base-url http://127.0.0.1:9/v1 --judge-model j --max-retries 0"
                     " --no-progress --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no answer at all for komt_bench (2 samples without a judge verdict, e.g. judge: "),
            std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("every request"), std::string::npos) << "the model's requests were answered: " << r.err;
}

TEST(CliExit, ReplayLinesThatDoNotFitTheirRequestsExitOne) {
  ScratchDir dir;
  // Sample 2 has one log-probability for two choices: failed, and the file is to blame.
  write_file(dir.path() / "r.jsonl", R"({"task": "kobest_copa", "id": "1", "logprobs": [-1.5, -2.5]})" "\n"
                                     R"({"task": "kobest_copa", "id": "2", "logprobs": [-1.5]})" "\n");
  auto r = run_keval("run --tasks kobest_copa --limit 2 --backend replay --responses " + dir / "r.jsonl" +
                     " --no-progress --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("1 samples failed (not scored): their lines in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("r.jsonl:2: 1 logprobs for 2 choices"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("--resume"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partial: 1 of 2 (50.0%)"), std::string::npos) << r.out;
}

// An exec model that cannot answer multiple-choice prompts: none of them (`all`), or only the
// first request it gets (`first`).
const char* k_exec_model = R"(import json, sys
for line in sys.stdin:
    request = json.loads(line)
    text = request["messages"][-1]["content"]
    if "\nB. " in text and (sys.argv[1] == "all" or request["id"] == "r1"):
        print(json.dumps({"id": request["id"], "error": "this model cannot answer choices"}), flush=True)
    else:
        print(json.dumps({"id": request["id"], "text": "모르겠습니다"}), flush=True)
)";

TEST(CliExit, ATaskWithNoAnswerAtAllExitsOne) {
  ScratchDir dir;
  write_file(dir.path() / "model.py", k_exec_model);
  auto r = run_keval("run --backend exec --cmd " + shell_quote("python3 " + dir / "model.py" + " all") +
                     " --mc-mode generate --tasks kobest_copa,korquad_v1 --limit 3 --no-progress --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no answer at all for kobest_copa (3 samples, e.g. "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("this model cannot answer choices"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("korquad_v1 ("), std::string::npos) << "korquad_v1 was answered: " << r.err;
  // With every task answered at least once, failures are marked and can be retried: not fatal.
  r = run_keval("run --backend exec --cmd " + shell_quote("python3 " + dir / "model.py" + " first") +
                " --mc-mode generate --tasks kobest_copa,korquad_v1 --limit 3 --no-progress --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("partial: 2 of 3 (66.7%)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 samples failed (not scored); `keval run --resume"), std::string::npos) << r.out;
}

TEST(CliSamples, TextShowsPromptMessagesAndOddWhitespace) {
  auto r = run_keval("samples --task kobest_copa --limit 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto prompt = r.out.find("[prompt: what a completions endpoint gets");
  const auto messages = r.out.find("[messages: what a chat endpoint gets]\n<user>\n");
  ASSERT_NE(prompt, std::string::npos) << r.out;
  ASSERT_NE(messages, std::string::npos) << r.out;
  EXPECT_LT(prompt, messages);
  // lm-evaluation-harness's COPA context has two spaces before the connective; keval keeps them.
  EXPECT_NE(r.out.find("허리가 컸다.  그래서"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("! prompt: two spaces in a row (first at line 1, column 17), as lm-evaluation-harness renders it"),
            std::string::npos)
      << r.out;
  auto j = run_keval("samples --task kobest_copa --limit 1 --json");
  ASSERT_EQ(j.exit_code, 0);
  const auto sample = json_lines(j.out).at(0);
  EXPECT_TRUE(sample["prompt"].get<std::string>().find("  그래서") != std::string::npos);
  ASSERT_EQ(sample["messages"].size(), 1u);
  EXPECT_NE(r.out.find(sample["messages"][0]["content"].get<std::string>()), std::string::npos) << "text shows the message";
  ASSERT_TRUE(sample.contains("whitespace")) << sample.dump();
  EXPECT_EQ(sample["whitespace"][0]["in"], "prompt");
  EXPECT_EQ(sample["whitespace"][0]["what"], "two spaces in a row");
  EXPECT_EQ(sample["whitespace"][0]["column"], 17);
}

} // namespace
} // namespace keval

namespace keval {
namespace {

// Whitespace notes count characters (Hangul is one column) and say where the whitespace comes from.
TEST(CliSamples, WhitespaceNotesNameLineColumnAndCause) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/spaces.yaml", R"(task: spaces
suite: test
version: 1
licence: test data
dataset: {file: spaces/data.jsonl, format: jsonl, split: test}
id_field: id
output_type: multiple_choice
prompt: "질문: {{q}}  \n답: "
choices: ["{{a}}", "{{b}}"]
choice_labels: [A, B]
target: {field: gold, kind: index}
scorer: multiple_choice
metrics: [acc]
)");
  write_file(dir.path() / "datasets/spaces/data.jsonl", R"({"id": "1", "q": "가  나", "a": "예", "b": "아니오", "gold": 0})" "\n");
  auto r = run_keval("--tasks-dir " + dir / "tasks" + " --datasets-dir " + dir / "datasets" + " samples --task spaces --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto sample = json_lines(r.out).at(0);
  ASSERT_EQ(sample["prompt"], "질문: 가  나  \n답: ") << "the test needs the template's whitespace kept";
  std::map<std::string, nlohmann::json> notes;
  for (const auto& n : sample["whitespace"])
    if (n["in"] == "prompt") notes[n["what"].get<std::string>()] = n;
  ASSERT_EQ(notes.size(), 3u) << sample["whitespace"].dump();
  EXPECT_EQ(notes["two spaces in a row"]["line"], 1);
  EXPECT_EQ(notes["two spaces in a row"]["column"], 6);
  EXPECT_EQ(notes["two spaces in a row"]["count"], 1) << "the blanks at the line's end are counted there";
  EXPECT_EQ(notes["space at the end of a line"]["line"], 1);
  EXPECT_EQ(notes["space at the end of a line"]["column"], 10);
  EXPECT_EQ(notes["ends with whitespace"]["line"], 2);
  EXPECT_EQ(notes["ends with whitespace"]["column"], 3);
  EXPECT_EQ(notes["two spaces in a row"]["why"], "from the task's template or data");
}

} // namespace
} // namespace keval
