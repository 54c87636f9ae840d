#pragma once
// Each command registers its options on the app and returns the action to run when chosen.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "registry.h"

namespace keval::cli {

struct GlobalOptions {
  std::string tasks_dir;     // empty: KevalPaths::defaults()
  std::string datasets_dir;
  KevalPaths paths() const;
};

using Action = std::function<int()>;

Action add_tasks_command(CLI::App& app, const GlobalOptions& global);
Action add_samples_command(CLI::App& app, const GlobalOptions& global);
Action add_run_command(CLI::App& app, const GlobalOptions& global);
Action add_runs_command(CLI::App& app, const GlobalOptions& global);
Action add_results_command(CLI::App& app, const GlobalOptions& global);
Action add_compare_command(CLI::App& app, const GlobalOptions& global);
Action add_gate_command(CLI::App& app, const GlobalOptions& global);
Action add_report_command(CLI::App& app, const GlobalOptions& global);
Action add_pairwise_command(CLI::App& app, const GlobalOptions& global);
Action add_merge_command(CLI::App& app, const GlobalOptions& global);

inline constexpr const char* k_default_db = "results/keval.db";

} // namespace keval::cli
