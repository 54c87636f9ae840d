#pragma once
// What a finished run's closing lines and exit code say. A run exits 1 when a task got no answer
// at all (every request failed included) or when a replay file lacked samples or held lines that
// do not fit their requests; each hint names
// what can actually help (`--resume` retries a server's failures, not a file's gaps).
#include <string>
#include <vector>

#include "runner.h"

namespace keval::cli {

struct RunOutcome {
  std::vector<std::string> notes;  // printed after the results table
  std::string failure;             // non-empty: the run exits 1 with this message
};

RunOutcome assess_run(Store& store, const RunSummary& summary);

} // namespace keval::cli
