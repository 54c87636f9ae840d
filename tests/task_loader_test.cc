// The task loader rejects every malformed task file with the file, the line and the allowed values.
#include <gtest/gtest.h>

#include "support/cli.h"
#include "task_loader.h"
#include "error.h"

namespace keval {
namespace {

using testing::ScratchDir;
using testing::write_file;

const char* k_valid = R"(task: tiny_copa
suite: tiny
version: 2
licence: CC BY-SA 4.0
dataset:
  file: tiny/test.tsv
  format: tsv
  split: test
id_field: ID
output_type: multiple_choice
prompt: "{{sentence}} {{connective}}"
choices: ["{{1}}", "{{2}}"]
choice_labels: ["1", "2"]
target: {field: Answer, kind: index, base: 1}
derived:
  - {name: connective, from: question, map: {원인: 왜냐하면, 결과: 그래서}}
scorer: multiple_choice
metrics: [acc, macro_f1]
)";

std::string error_of(const std::string& yaml) {
  ScratchDir dir;
  write_file(dir.path() / "t.yaml", yaml);
  try {
    load_task_file(dir / "t.yaml", "tasks/t.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(TaskLoader, LoadsAValidTask) {
  ScratchDir dir;
  write_file(dir.path() / "t.yaml", k_valid);
  TaskFile f = load_task_file(dir / "t.yaml", "tasks/t.yaml");
  ASSERT_TRUE(f.task);
  EXPECT_EQ(f.task->name, "tiny_copa");
  EXPECT_EQ(f.task->version, 2);
  EXPECT_EQ(f.task->target.base, 1);
  ASSERT_EQ(f.task->derived.size(), 1u);
  EXPECT_EQ(f.task->derived[0].map.at("원인"), "왜냐하면");
  EXPECT_EQ(f.task->metrics, (std::vector<std::string>{"acc", "macro_f1"}));
}

TEST(TaskLoader, UnknownKeyNamesLineAndSuggests) {
  std::string e = error_of(replace(k_valid, "prompt:", "promt:"));
  EXPECT_NE(e.find("tasks/t.yaml:11"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'promt'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'prompt'"), std::string::npos) << e;
}

TEST(TaskLoader, DuplicateKeyIsAnError) {
  std::string e = error_of(std::string(k_valid) + "version: 3\n");
  EXPECT_NE(e.find("tasks/t.yaml:19: duplicate key 'version' (first at line 3)"), std::string::npos) << e;
}

TEST(TaskLoader, DuplicateNestedKeyIsAnError) {
  std::string e = error_of(replace(k_valid, "  split: test\n", "  split: test\n  format: csv\n"));
  EXPECT_NE(e.find("duplicate key 'format'"), std::string::npos) << e;
}

TEST(TaskLoader, MissingRequiredKey) {
  std::string e = error_of(replace(k_valid, "licence: CC BY-SA 4.0\n", ""));
  EXPECT_NE(e.find("tasks/t.yaml: missing required key 'licence'"), std::string::npos) << e;
}

TEST(TaskLoader, UnknownOutputTypeListsAllowedValues) {
  std::string e = error_of(replace(k_valid, "output_type: multiple_choice", "output_type: multiple_choise"));
  EXPECT_NE(e.find("tasks/t.yaml:10"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'multiple_choice'"), std::string::npos) << e;
  EXPECT_NE(e.find("generate"), std::string::npos) << e;
}

TEST(TaskLoader, UnknownScorer) {
  std::string e = error_of(replace(k_valid, "scorer: multiple_choice", "scorer: multiple_choce"));
  EXPECT_NE(e.find("unknown scorer 'multiple_choce'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'multiple_choice'"), std::string::npos) << e;
}

TEST(TaskLoader, MetricTheScorerCannotProduce) {
  std::string e = error_of(replace(k_valid, "metrics: [acc, macro_f1]", "metrics: [acc, pearson]"));
  EXPECT_NE(e.find("does not produce metric 'pearson'"), std::string::npos) << e;
}

TEST(TaskLoader, UnknownDatasetFormatAndNestedKey) {
  EXPECT_NE(error_of(replace(k_valid, "format: tsv", "format: tsvv")).find("did you mean 'tsv'"), std::string::npos);
  std::string e = error_of(replace(k_valid, "  split: test", "  spilt: test"));
  EXPECT_NE(e.find("tasks/t.yaml:8: unknown key 'spilt'"), std::string::npos) << e;
}

TEST(TaskLoader, YamlSyntaxErrorNamesTheLine) {
  std::string e = error_of("task: x\nsuite: [unclosed\n");
  EXPECT_NE(e.find("tasks/t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
}

TEST(TaskLoader, IncludeMergesBaseAndLeafWins) {
  ScratchDir dir;
  std::string base = replace(k_valid, "task: tiny_copa\n", "");
  write_file(dir.path() / "_base.yaml", base);
  write_file(dir.path() / "leaf.yaml", "include: _base.yaml\ntask: tiny_leaf\nversion: 7\n");
  TaskFile f = load_task_file(dir / "leaf.yaml", "tasks/leaf.yaml");
  ASSERT_TRUE(f.task);
  EXPECT_EQ(f.task->name, "tiny_leaf");
  EXPECT_EQ(f.task->version, 7);
  EXPECT_EQ(f.task->suite, "tiny");
}

TEST(TaskLoader, ErrorsInAnIncludedFileNameThatFile) {
  ScratchDir dir;
  write_file(dir.path() / "_base.yaml", replace(replace(k_valid, "task: tiny_copa\n", ""), "scorer:", "scorre:"));
  write_file(dir.path() / "leaf.yaml", "include: _base.yaml\ntask: tiny_leaf\n");
  try {
    load_task_file(dir / "leaf.yaml", "tasks/leaf.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tasks/_base.yaml:"), std::string::npos) << e.what();
  }
}

TEST(TaskLoader, NonFiniteOptionIsNotANumber) {
  // "nan" read as a number made every tolerance comparison false; it stays text and is refused.
  std::string numeric = replace(replace(k_valid, "scorer: multiple_choice", "scorer: numeric\nscorer_options: {tolerance: nan}"),
                                "metrics: [acc, macro_f1]", "metrics: [acc]");
  std::string e = error_of(numeric);
  EXPECT_NE(e.find("tasks/t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("tolerance"), std::string::npos) << e;
}

TEST(TaskLoader, AnchorsAreRefusedInTaskFiles) {
  std::string e = error_of(replace(k_valid, "choice_labels: [\"1\", \"2\"]", "choice_labels: &labels [\"1\", \"2\"]"));
  EXPECT_NE(e.find("tasks/t.yaml:13:"), std::string::npos) << e;
  EXPECT_NE(e.find("anchors"), std::string::npos) << e;
}

TEST(TaskLoader, GroupFile) {
  ScratchDir dir;
  write_file(dir.path() / "g.yaml", "group: tiny\ntasks: [a, b]\naggregate: micro\n");
  TaskFile f = load_task_file(dir / "g.yaml", "tasks/g.yaml");
  ASSERT_TRUE(f.group);
  EXPECT_EQ(f.group->members.size(), 2u);
  EXPECT_EQ(f.group->aggregate, "micro");
  write_file(dir.path() / "g.yaml", "group: tiny\ntasks: [a]\naggregate: mikro\n");
  EXPECT_THROW(load_task_file(dir / "g.yaml", "tasks/g.yaml"), InputError);
}

TEST(TaskLoader, TemperatureByReadsPerValueTemperatures) {
  ScratchDir dir;
  write_file(dir.path() / "t.yaml",
             replace(k_valid, "scorer: multiple_choice",
                     "generation:\n  temperature: 0.2\n  temperature_by:\n    field: category\n"
                     "    values: {writing: 0.7, math: 0.0}\nscorer: multiple_choice"));
  TaskFile f = load_task_file(dir / "t.yaml", "tasks/t.yaml");
  ASSERT_TRUE(f.task);
  EXPECT_EQ(f.task->generation.temperature_field, "category");
  EXPECT_DOUBLE_EQ(f.task->generation.temperature_by_value.at("writing"), 0.7);
  Sample writing, other;
  writing.fields = {{"category", "writing"}};
  other.fields = {{"category", "글쓰기"}};
  EXPECT_DOUBLE_EQ(sampling_temperature(*f.task, writing), 0.7);
  EXPECT_DOUBLE_EQ(sampling_temperature(*f.task, other), 0.2);  // not listed: the task's temperature
}

TEST(TaskLoader, MalformedTemperatureByAndPromptStrategyNameTheLine) {
  std::string e = error_of(replace(k_valid, "scorer: multiple_choice",
                                   "generation:\n  temperature_by: {field: category}\nscorer: multiple_choice"));
  EXPECT_NE(e.find("tasks/t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("'temperature_by' must be a mapping"), std::string::npos) << e;
  e = error_of(replace(k_valid, "scorer: multiple_choice",
                       "generation:\n  temperature_by: {field: category, values: {writing: hot}}\nscorer: multiple_choice"));
  EXPECT_NE(e.find("temperature_by.values.writing must be a number"), std::string::npos) << e;
  e = error_of(replace(k_valid, "scorer: multiple_choice", "prompt_strategy: 1-shot\nscorer: multiple_choice"));
  EXPECT_NE(e.find("tasks/t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("'prompt_strategy' must be a mapping with 'file'"), std::string::npos) << e;
}

} // namespace
} // namespace keval
