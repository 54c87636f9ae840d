#pragma once
// Test support: run the keval binary as a user would, and scratch directories.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace keval::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
}

// A fresh directory under the system temp dir, removed at the end of the test.
class ScratchDir {
public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "keval-test-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    m_path = made ? made : pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  const std::filesystem::path& path() const { return m_path; }
  std::string operator/(const std::string& name) const { return (m_path / name).string(); }

private:
  std::filesystem::path m_path;
};

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `keval ARGS` (args already shell-quoted where needed) and captures everything; `env`
// holds environment assignments ("NAME=value ") put before the command.
inline CommandResult run_keval(const std::string& args, const std::string& env = "") {
  ScratchDir io;
  std::string cmd = env + std::string(KEVAL_BINARY) + " " + args + " >" + io / "out" + " 2>" + io / "err" + " </dev/null";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(io / "out");
  r.err = slurp(io / "err");
  return r;
}

inline std::string source_dir() { return KEVAL_SOURCE_DIR; }

// A two-choice task over tiny/data.jsonl (rows {id, q, a, b, gold}), for tests that write their
// own task tree.
inline const std::string k_tiny_task = R"(task: tiny
suite: tiny
version: 1
licence: test data
dataset: {file: tiny/data.jsonl, format: jsonl, split: test}
id_field: id
output_type: multiple_choice
prompt: "{{q}}"
choices: ["{{a}}", "{{b}}"]
choice_labels: [A, B]
target: {field: gold, kind: index}
scorer: multiple_choice
metrics: [acc]
)";

} // namespace keval::testing
