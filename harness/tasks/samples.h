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
#include "python_random.h"

namespace keval {

// lm-evaluation-harness seeds each task's few-shot sampler with 1234 (its --seed's fourth value).
inline constexpr std::int64_t k_default_fewshot_seed = 1234;

// How few-shot examples are chosen for one build of a task.
struct FewshotOptions {
  int count = 0;                                // examples per sample (0: none)
  std::int64_t seed = k_default_fewshot_seed;   // of the task's one generator (sampler `default`)
};

// Builds a task's samples a range at a time, so a large task need not hold every sample at once:
// the (compact) rows are the one full copy, each decoded when its sample is built.
// Ranges must be asked in order, each once; a sample id seen before in any range is an error.
//
// Few-shot examples are drawn as lm-evaluation-harness draws them (lm_eval/api/samplers.py,
// task.py fewshot_context): one Python `random.Random(seed)` per task and, for each evaluated
// row in order, `sample(pool, k)`; when the few-shot split is the evaluated split it draws k + 1
// and drops the rows equal to the evaluated one. Because the generator advances row by row, the
// samples of rows 0..n-1 are the same whether built at once, in ranges or under a limit.
// Sampler `first_n` takes the pool's first k rows instead.
class SampleBuilder {
public:
  SampleBuilder(const TaskConfig& task, DatasetRows rows, std::optional<DatasetRows> fewshot_rows,
                const FewshotOptions& fewshot, std::optional<size_t> limit);
  ~SampleBuilder();
  SampleBuilder(SampleBuilder&&) noexcept;
  size_t size() const { return m_size; }  // samples of the task (after the limit)
  std::vector<Sample> build(size_t from, size_t to);

private:
  struct Compiled;
  struct Example;
  // The few-shot text for eval row `row` (both modes), advancing the generator.
  void fewshot_prefix(size_t row, std::string& prompt, std::string& generation_prompt);
  const Example& example(size_t pool_index);

  const TaskConfig* m_task;
  DatasetRows m_rows;
  std::unique_ptr<Compiled> m_compiled;
  std::optional<DatasetRows> m_pool;          // the few-shot source
  int m_fewshot_count = 0;
  bool m_pool_is_eval_split = false;          // draw k + 1 and drop the evaluated row
  PythonRandom m_random;
  std::vector<std::unique_ptr<Example>> m_examples;  // rendered pool rows, on first use
  size_t m_size = 0;
  size_t m_next = 0;
  std::unordered_set<std::string> m_ids;
};

// Every sample at once.
std::vector<Sample> build_samples(const TaskConfig& task, DatasetRows rows, std::optional<DatasetRows> fewshot_rows,
                                  const FewshotOptions& fewshot, std::optional<size_t> limit);

} // namespace keval
