#pragma once
// Turns a task's dataset rows into Samples: renders the templates, attaches few-shot examples,
// reads the gold answer. Errors name the row ("file:line") and the task file.
#include <optional>
#include <vector>

#include "dataset.h"
#include "task.h"

namespace keval {

// `rows` is consumed: each row moves into its sample.
std::vector<Sample> build_samples(const TaskConfig& task, DatasetRows rows, const DatasetRows* fewshot_rows,
                                  int num_fewshot, std::optional<size_t> limit);

} // namespace keval
