#pragma once
// How every command names runs (docs/cli.md): an id, a name, or `latest` (the newest run, unless
// a run is named so), given as a positional argument or as an option (--run, --baseline,
// --candidate); the two forms fill the same slots.
#include <string>
#include <vector>

#include "store.h"

namespace keval::cli {

// One run a command needs: how it is named in messages and where its value goes.
struct RunSlot {
  std::string name;     // "--baseline (BASE)"
  std::string* value;   // filled from the option, else from the next positional
  bool required = true;
};

// Puts `positionals` into the slots no option filled, in order, and returns the names of the
// required slots left empty. Too many positionals: InputError.
std::vector<std::string> assign_runs(const std::vector<std::string>& positionals, const std::vector<RunSlot>& slots,
                                     const std::string& usage);

// InputError "missing A, B and C: usage" naming everything missing at once; nothing when empty.
void fail_if_missing(const std::vector<std::string>& missing, const std::string& usage);

// The run `spec` names in `store`; InputError naming `role`, the database and the nearest names.
RunRecord find_run_or_fail(Store& store, const std::string& spec, const std::string& role);

} // namespace keval::cli
