// Hostile task, group and gate files through the real binary: every command that reads them
// answers exit 2 with file:line, quickly, instead of crashing (alias cycle) or hanging (alias bomb).
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::write_file;

std::string alias_bomb() {
  std::string yaml = "l0: &l0 [\"하\", \"하\", \"하\", \"하\", \"하\", \"하\", \"하\", \"하\", \"하\"]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string n = std::to_string(i);
    yaml += "l";
    yaml += n;
    yaml += ": &l";
    yaml += n;
    yaml += " [";
    for (int k = 0; k < 9; ++k) {
      yaml += k ? ", *l" : "*l";
      yaml += std::to_string(i - 1);
    }
    yaml += "]\n";
  }
  return yaml;
}

struct Hostile {
  std::string name;
  std::string content;   // appended to a valid task file
  std::string expected;  // in stderr, after "tasks/tiny.yaml:"
};

class HostileTaskFile : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileTaskFile, EveryCommandExitsTwoNamingFileAndLine) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task + GetParam().content);
  write_file(dir.path() / "datasets/tiny/data.jsonl", "{\"id\": \"1\", \"q\": \"하늘은?\", \"a\": \"파랗다\", \"b\": \"빨갛다\", \"gold\": 0}\n");
  const std::string dirs = "--tasks-dir " + shell_quote(dir / "tasks") + " --datasets-dir " + shell_quote(dir / "datasets") + " ";
  for (const std::string& command : {std::string("tasks"), std::string("samples --task tiny"),
                                     "run --backend random --tasks tiny --no-progress --db " + shell_quote(dir / "k.db")}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = run_keval(dirs + command);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << command;
    EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.err;
    EXPECT_NE(r.err.find(std::string("tiny.yaml:").append(GetParam().expected)), std::string::npos) << command << "\n" << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, HostileTaskFile,
    ::testing::Values(Hostile{"AliasCycle", "description: &loop [*loop]\n", "14:"},
                      Hostile{"MapCycle", "scorer_options: &m {x: *m}\n", "14:"},
                      Hostile{"AliasBomb", alias_bomb(), "14:"},
                      Hostile{"InvalidUtf8", "description: \"설명 \xE3\x81\"\n", "14:"},
                      Hostile{"DeepNesting", "description: " + std::string(50000, '[') + "\n", "14:"},
                      Hostile{"NonStringKey", "? [a, b]\n: 1\n", "14: a key must be a plain string"}),
    [](const auto& info) { return info.param.name; });

TEST(HostileTaskFileRelativeDir, ErrorsNameTheFileWhenTasksDirIsRelative) {
  // A relative --tasks-dir once gave errors with an empty file name (":14: duplicate key …").
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task + "version: 2\n");
  for (const char* tasks_dir : {"tasks", "tasks/", "./tasks"}) {
    auto r = run_keval(std::string("--tasks-dir ") + tasks_dir + " tasks", "cd " + shell_quote(dir.path().string()) + " && ");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("error: tasks/tiny.yaml:14: duplicate key 'version' (first at line 3)"), std::string::npos)
        << tasks_dir << ": " << r.err;
  }
}

TEST(HostileGroupFile, AliasesInAGroupFileExitTwo) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task);
  write_file(dir.path() / "tasks/g.yaml", "group: g\ntasks: &t [tiny, *t]\n");
  auto r = run_keval("--tasks-dir " + shell_quote(dir / "tasks") + " tasks");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("g.yaml:2:"), std::string::npos) << r.err;
}

TEST(HostileGateFile, AliasCycleAndBombExitTwoBeforeTheDatabase) {
  ScratchDir dir;
  for (const auto& [file, content] : std::vector<std::pair<std::string, std::string>>{
           {"cycle.yaml", "alpha: 0.05\nrules: &r\n  - {task: kobest_copa, metric: acc}\n  - *r\n"},
           {"bomb.yaml", "alpha: 0.05\n" + alias_bomb() + "rules:\n  - {task: kobest_copa, metric: acc}\n"},
           {"utf8.yaml", "alpha: 0.05\nrules:\n  - {task: \"\xC0\xAF\", metric: acc}\n"}}) {
    write_file(dir.path() / file, content);
    const auto start = std::chrono::steady_clock::now();
    auto r = run_keval("gate --db " + shell_quote(dir / "none.db") + " --baseline a --candidate b --config " +
                       shell_quote(dir / file));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << file;
    EXPECT_EQ(r.exit_code, 2) << file << "\n" << r.err;
    EXPECT_NE(r.err.find(file + ":"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
}

TEST(HostileDataset, NumbersOutOfRangeExitTwoNamingTheLine) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", testing::k_tiny_task);
  const std::string row = R"({"id": "1", "q": "하늘은?", "a": "파랗다", "b": "빨갛다", "gold": 0})";
  for (const auto& [bad, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id": "2", "q": "바다는?", "a": "파랗다", "b": "빨갛다", "gold": 1e999})", "data.jsonl:2: malformed JSON"},
           // get<int> would have wrapped this to 0, the first choice: a wrong gold, silently.
           {R"({"id": "2", "q": "바다는?", "a": "파랗다", "b": "빨갛다", "gold": 4294967296})", "expected an integer answer"},
           {R"({"id": "2", "q": "바다는?", "a": "파랗다", "b": "빨갛다", "gold": 3e9})", "expected an integer answer"},
           {R"({"id": "2", "q": "바다는?", "a": "파랗다", "b": "빨갛다", "gold": "-1e300"})", "expected an integer answer"}}) {
    write_file(dir.path() / "datasets/tiny/data.jsonl", row + "\n" + bad + "\n");
    auto r = run_keval("--tasks-dir " + shell_quote(dir / "tasks") + " --datasets-dir " + shell_quote(dir / "datasets") +
                       " samples --task tiny");
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
  }
}

TEST(HostileTaskInclude, DeviceOrPipeIsRefused) {
  ScratchDir dir;
  write_file(dir.path() / "tasks/tiny.yaml", "include: /dev/zero\ntask: tiny\n");
  auto r = run_keval("--tasks-dir " + shell_quote(dir / "tasks") + " tasks");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("tiny.yaml:1: included '/dev/zero' is not a regular file"), std::string::npos) << r.err;
}

TEST(HostileReplayFile, DuplicateKeysAndHugeNumbersExitTwo) {
  ScratchDir dir;
  for (const std::string& line : {std::string(R"({"task": "kobest_copa", "id": "1", "response": "1", "response": "2"})"),
                                  std::string(R"({"task": "kobest_copa", "id": "1", "logprobs": [-1, 1e400]})")}) {
    write_file(dir.path() / "r.jsonl", line + "\n");
    auto r = run_keval("run --backend replay --responses " + shell_quote(dir / "r.jsonl") +
                       " --tasks kobest_copa --limit 2 --no-progress --db " + shell_quote(dir / "k.db"));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("r.jsonl:1: malformed JSON"), std::string::npos) << r.err;
  }
}

TEST(HostilePaths, APathTheSystemRefusesExitsTwo) {
  ScratchDir dir;
  const std::string too_long = dir / std::string(5000, 'a') + "/k.db";
  for (const std::string& command : {"runs --db " + too_long, "results --db " + too_long,
                                     "run --backend random --tasks kobest_copa --limit 2 --no-progress --db " + too_long}) {
    auto r = run_keval(command);
    EXPECT_EQ(r.exit_code, 2) << command.substr(0, 60) << "\n" << r.err.substr(0, 300);
    // The reason, the system's or SQLite's, is named with the file.
    EXPECT_TRUE(r.err.find("File name too long") != std::string::npos || r.err.find("cannot open") != std::string::npos)
        << r.err.substr(0, 300);
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err.substr(0, 300);
  }
}

TEST(HostileOptions, MaxFailuresMustBeAFiniteCount) {
  ScratchDir dir;
  for (const char* spec : {"1e300", "inf", "nan%", "-1"}) {
    auto r = run_keval(std::string("run --backend random --tasks kobest_copa --limit 2 --no-progress --max-failures ") +
                       spec + " --db " + shell_quote(dir / "k.db"));
    EXPECT_EQ(r.exit_code, 2) << spec << "\n" << r.err;
    EXPECT_NE(r.err.find("is not a count N or a share N%"), std::string::npos) << r.err;
  }
}

} // namespace
} // namespace keval
