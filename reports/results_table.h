#pragma once
// Terminal tables and JSON documents for runs and their results. Reads only stored records.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store.h"
#include "usage.h"

namespace keval {

std::string format_results_table(const RunRecord& run, const std::vector<TaskResult>& results);
nlohmann::json results_json(const RunRecord& run, const std::vector<TaskResult>& results);
// Fills `undefined_reason` of each task result without a value (e.g. a correlation over constant
// answers) from the run's stored scores; the table prints it, the JSON carries it.
void explain_undefined_values(Store& store, const RunRecord& run, std::vector<TaskResult>& results);

std::string format_runs_table(const std::vector<RunRecord>& runs);
nlohmann::json run_json(const RunRecord& run);

} // namespace keval
