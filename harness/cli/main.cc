// keval: evaluates and benchmarks LLMs on Korean. main() wires the commands; errors are caught
// once here and turned into exit codes (docs/cli.md: 0 success, 1 check failed, 2 bad usage or input).
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "command_line.h"
#include "commands.h"
#include "keval_version.h"
#include "error.h"

namespace keval::cli {

KevalPaths GlobalOptions::paths() const {
  KevalPaths paths = KevalPaths::defaults();
  if (!tasks_dir.empty()) paths.tasks_dir = tasks_dir;
  if (!datasets_dir.empty()) paths.datasets_dir = datasets_dir;
  return paths;
}

} // namespace keval::cli

int main(int argc, char** argv) {
  using namespace keval;
  CLI::App app{"keval: evaluate and benchmark large language models on Korean", "keval"};
  app.set_version_flag("--version", k_version);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer("`keval help COMMAND` (or `keval COMMAND --help`) shows a command's options; docs/cli.md has the grammar.");
  cli::GlobalOptions global;
  app.add_option("--tasks-dir", global.tasks_dir, "Directory of task files (default: $KEVAL_HOME/tasks)");
  app.add_option("--datasets-dir", global.datasets_dir, "Directory of dataset files (default: $KEVAL_HOME/datasets)");

  std::vector<std::pair<CLI::App*, cli::Action>> commands;
  auto add = [&](const char* name, const char* help, cli::Action (*adder)(CLI::App&, const cli::GlobalOptions&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    commands.emplace_back(sub, adder(*sub, global));
  };
  add("tasks", "List tasks, groups and suites", cli::add_tasks_command);
  add("samples", "Show tasks' samples exactly as a model sees them", cli::add_samples_command);
  add("run", "Evaluate a backend on tasks (or --resume a run)", cli::add_run_command);
  add("runs", "List the runs in a database", cli::add_runs_command);
  add("results", "Show a run's per-task scores", cli::add_results_command);
  add("compare", "Paired per-task differences of two runs, with intervals and p-values", cli::add_compare_command);
  add("gate", "Fail (exit 1) when a candidate run regresses against a baseline", cli::add_gate_command);
  add("report", "Write a static HTML leaderboard of every run", cli::add_report_command);
  add("pairwise", "Two runs' dialogue answers compared by a judge model in both orders: win, tie and loss rates", cli::add_pairwise_command);
  add("merge", "Merge the shard databases of one run (keval run --shard) into one run", cli::add_merge_command);

  // What CLI11 does not say itself: the command list for a bare `keval` or `keval help`, and
  // the nearest name for an unknown command or option.
  const std::vector<std::string> args(argv + 1, argv + argc);
  const cli::CommandLineCheck check = cli::check_command_line(app, args);
  if (check.kind == cli::CommandLineCheck::Kind::help) {
    fmt::print("{}", check.message);
    return 0;
  }
  if (check.kind == cli::CommandLineCheck::Kind::usage_error) {
    fmt::print(stderr, "{}", check.message);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    for (auto& [sub, action] : commands)
      if (sub->parsed()) return action();
  } catch (const InputError& e) {
    fmt::print(stderr, "keval: error: {}\n", e.what());
    return 2;
  } catch (const CheckFailed& e) {
    fmt::print(stderr, "keval: {}\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that the system refuses (too long, not allowed, not a directory):
    // bad input, not a bug in keval.
    fmt::print(stderr, "keval: error: {}: {}\n", e.path1().string(), e.code().message());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "keval: internal error: {}\n", e.what());
    return 3;
  }
  return 0;
}
