// The documentation's commands run exactly as written: every ```sh block that follows the marker
// `<!-- runs in tests/docs_examples_test.cc -->` in README.md and docs/*.md, each command in
// order, from a scratch directory laid out like the repository (build/keval, examples/), so that
// an example file or a command line that drifts from keval breaks this test.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "support/cli.h"

namespace keval {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;

constexpr const char* k_marker = "<!-- runs in tests/docs_examples_test.cc -->";

// The commands of the marked blocks of a Markdown file; a line ending in '\' continues.
std::vector<std::string> marked_commands(const std::string& markdown) {
  std::vector<std::string> commands;
  std::stringstream in(markdown);
  std::string line;
  bool marked = false, in_block = false;
  std::string pending;
  while (std::getline(in, line)) {
    if (!in_block) {
      if (line == k_marker) marked = true;
      else if (marked && line == "```sh") in_block = true;
      else if (!line.empty()) marked = false;
      continue;
    }
    if (line == "```") {
      in_block = marked = false;
      continue;
    }
    if (!pending.empty()) pending += "\n";
    pending += line;
    if (!line.empty() && line.back() == '\\') continue;
    if (!pending.empty() && pending.front() != '#') commands.push_back(pending);
    pending.clear();
  }
  return commands;
}

struct Ran {
  int exit_code;
  std::string out, err;
};

Ran run_in(const fs::path& dir, const std::string& command) {
  ScratchDir io;
  const std::string cmd = "cd " + shell_quote(dir.string()) + " && sh -c " + shell_quote(command) + " >" + io / "out" +
                          " 2>" + io / "err" + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(io / "out"), slurp(io / "err")};
}

class DocsExamples : public ::testing::TestWithParam<const char*> {};

TEST_P(DocsExamples, RunAsWritten) {
  const fs::path source = testing::source_dir();
  const auto commands = marked_commands(slurp(source / GetParam()));
  ASSERT_FALSE(commands.empty()) << GetParam() << " has no marked block";
  ScratchDir dir;
  fs::create_directories(dir.path() / "build");
  fs::create_symlink(KEVAL_BINARY, dir.path() / "build" / "keval");
  fs::create_directory_symlink(source / "examples", dir.path() / "examples");
  for (const auto& command : commands) {
    ASSERT_TRUE(command.starts_with("build/keval ")) << command;
    const Ran r = run_in(dir.path(), command);
    EXPECT_EQ(r.exit_code, 0) << GetParam() << ": " << command << "\n" << r.out << r.err;
    EXPECT_FALSE(r.out.empty()) << command;
    // An example evaluates what it claims: no sample of a documented run goes unanswered.
    if (command.find("build/keval run ") == 0) {
      EXPECT_NE(r.out.find("run id: "), std::string::npos) << command << "\n" << r.out;
      EXPECT_EQ(r.out.find("partial"), std::string::npos) << command << "\n" << r.out;
      EXPECT_EQ(r.err.find("warning"), std::string::npos) << command << "\n" << r.err;
    }
    if (command.find("build/keval gate ") == 0) {
      EXPECT_NE(r.out.find("gate passed"), std::string::npos) << r.out;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, DocsExamples,
                         ::testing::Values("README.md", "docs/cli.md", "docs/formats.md", "docs/ci.md"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           return name == "README" ? std::string("readme") : name;
                         });

// Every file in examples/ is used by a command that a test runs.
TEST(DocsExamplesCoverage, EveryExampleFileIsRun) {
  const fs::path source = testing::source_dir();
  std::string all;
  for (const char* file : {"README.md", "docs/cli.md", "docs/formats.md", "docs/ci.md"})
    for (const auto& command : marked_commands(slurp(source / file))) all += command + "\n";
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(source / "examples")) {
    ++files;
    const std::string name = "examples/" + entry.path().filename().string();
    EXPECT_NE(all.find(name), std::string::npos) << name << " is in no command the docs test runs";
  }
  EXPECT_GE(files, 6u);
}

TEST(DocsExamplesCoverage, MarkedBlocksAreFound) {
  const std::string markdown = std::string("text\n") + k_marker + "\n```sh\nbuild/keval a \\\n  --b c   # note\n# comment\n"
                               "build/keval d\n```\n\n```sh\nbuild/keval unmarked\n```\n";
  const auto commands = marked_commands(markdown);
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[0], "build/keval a \\\n  --b c   # note");
  EXPECT_EQ(commands[1], "build/keval d");
}

} // namespace
} // namespace keval
