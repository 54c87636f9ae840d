#pragma once
// Turns a task's dataset rows into Samples: renders the templates, attaches few-shot examples,
// reads the gold answer. Errors name the row ("file:line") and the task file.
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "dataset.h"
#include "task.h"

namespace keval {

// Builds a task's samples a range at a time, so a large task need not hold every sample at once:
// the (compact) rows are the one full copy, each decoded when its sample is built.
// Ranges must be asked in order, each once; a sample id seen before in any range is an error.
class SampleBuilder {
public:
  SampleBuilder(const TaskConfig& task, DatasetRows rows, const DatasetRows* fewshot_rows, int num_fewshot,
                std::optional<size_t> limit);
  ~SampleBuilder();
  SampleBuilder(SampleBuilder&&) noexcept;
  size_t size() const { return m_size; }  // samples of the task (after the limit)
  std::vector<Sample> build(size_t from, size_t to);

private:
  struct Compiled;
  const TaskConfig* m_task;
  DatasetRows m_rows;
  std::unique_ptr<Compiled> m_compiled;
  std::string m_prefix, m_generation_prefix;  // the few-shot examples
  size_t m_size = 0;
  size_t m_next = 0;
  std::unordered_set<std::string> m_ids;
};

// Every sample at once.
std::vector<Sample> build_samples(const TaskConfig& task, DatasetRows rows, const DatasetRows* fewshot_rows,
                                  int num_fewshot, std::optional<size_t> limit);

} // namespace keval
