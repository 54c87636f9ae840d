#pragma once
// Reads one task or group file (YAML). Every key is checked; errors are InputError with
// "file:line: message" and, for a misspelt name, "did you mean …".
#include <optional>
#include <string>

#include "task.h"

namespace keval {

struct TaskFile {
  std::optional<TaskConfig> task;
  std::optional<GroupConfig> group;
  nlohmann::json canonical;  // the merged keys as JSON, for the task's hash
};

// `path` is read; `display_path` is how errors name it (e.g. relative to the repo).
TaskFile load_task_file(const std::string& path, const std::string& display_path);

} // namespace keval
