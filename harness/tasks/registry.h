#pragma once
// The task registry: every task and group declared under tasks/, found by name.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataset.h"
#include "judge.h"
#include "samples.h"
#include "task.h"

namespace keval {

struct KevalPaths {
  std::string tasks_dir;     // where task files are
  std::string datasets_dir;  // where their data files are
  // $KEVAL_HOME/{tasks,datasets}, else the source tree keval was built from.
  static KevalPaths defaults();
};

class TaskRegistry {
public:
  // Loads every *.yaml under paths.tasks_dir (recursively, sorted). Files whose name starts with
  // '_' are bases for `include`. A name declared twice, or a group naming an unknown member, is
  // an InputError naming both files.
  explicit TaskRegistry(const KevalPaths& paths);

  const std::vector<TaskConfig>& tasks() const { return m_tasks; }
  const std::vector<GroupConfig>& groups() const { return m_groups; }
  const TaskConfig* find_task(const std::string& name) const;
  const GroupConfig* find_group(const std::string& name) const;

  // Expands task, group and suite names into tasks (in order, each once); `all` names every task.
  // A name is a task's, else a group's, else a suite's (the `suite` `keval tasks` shows). Unknown
  // names: InputError "unknown task, group or suite 'x'; did you mean …".
  std::vector<const TaskConfig*> resolve(const std::vector<std::string>& names) const;
  // Every task in a group, recursively, in declaration order.
  std::vector<std::string> group_tasks(const std::string& group) const;
  // Every task whose `suite` is `suite`, in declaration order (empty: no such suite).
  std::vector<std::string> suite_tasks(const std::string& suite) const;
  // The groups a task belongs to directly.
  std::vector<std::string> groups_of(const std::string& task) const;

  // The task's eval rows, filtered. The registry caches the files of one task at a time.
  DatasetRows rows(const TaskConfig& task);
  size_t count(const TaskConfig& task);
  // Builds a task's samples; fills the task's content hash (task file + data).
  // `num_fewshot` overrides the task's default count; `fewshot_seed` seeds its few-shot draw.
  std::vector<Sample> samples(const TaskConfig& task, std::optional<int> num_fewshot, std::optional<size_t> limit,
                              std::int64_t fewshot_seed = k_default_fewshot_seed);
  // The same, a range at a time (see SampleBuilder). The cache forgets the task's rows unless
  // `keep_cached`, for a caller that builds them again soon.
  SampleBuilder sample_builder(const TaskConfig& task, std::optional<int> num_fewshot, std::optional<size_t> limit,
                               bool keep_cached = false, std::int64_t fewshot_seed = k_default_fewshot_seed);
  // sha256 of the task's merged configuration and its data files (the judge's included).
  std::string task_hash(const TaskConfig& task);
  // The files a task's judge protocol reads (empty when the task has no judge).
  JudgeData judge_data(const TaskConfig& task);

private:
  KevalPaths m_paths;
  std::vector<TaskConfig> m_tasks;
  std::vector<GroupConfig> m_groups;
  std::map<std::string, size_t> m_task_index;
  std::map<std::string, size_t> m_group_index;
  std::map<std::string, std::string> m_canonical;  // task -> canonical config JSON
  void focus(const TaskConfig& task);  // keep only this task's files cached
  void load_prompt_strategy(TaskConfig& task) const;  // fills task.messages_before
  DatasetCache m_datasets;
};

} // namespace keval
