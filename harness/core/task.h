#pragma once
// What a task is once loaded: its configuration (from tasks/*.yaml) and its samples
// (rows of its dataset rendered through its templates).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace keval {

enum class OutputType { multiple_choice, generate, dialogue };
const char* to_string(OutputType t);

struct Message {
  std::string role;    // "system", "user" or "assistant"
  std::string content;
};

struct GenerationSettings {
  int max_tokens = 256;            // tokens the model may generate
  std::vector<std::string> stop;   // stop sequences
  double temperature = 0.0;        // 0 = greedy
  // Per-row temperatures (MT-Bench samples each category at its own): the row's value of
  // `temperature_field` picks one; a value not listed keeps `temperature`.
  std::string temperature_field;
  std::map<std::string, double> temperature_by_value;
};

// Where a task's rows come from. `files` are relative to datasets/.
struct DatasetSpec {
  std::vector<std::string> files;
  std::string format;                      // tsv, csv, jsonl, json, squad, kice
  std::string split;                       // informational: the split these files hold
  std::map<std::string, std::string> filter; // keep rows whose field equals the value
  std::vector<std::string> list_fields;    // fields holding a Python-style list string to parse
};

// How the gold answer is read from a row.
struct TargetSpec {
  std::string field;                        // the row's field holding the answer
  std::string kind = "index";               // index | choice_text | label_map | text | number | texts
  int base = 0;                             // for index: the value that means the first choice
  std::map<std::string, int> label_map;     // for label_map: value -> choice index
};

// A field computed from another by a fixed table (e.g. COPA's "원인" -> "왜냐하면").
struct DerivedField {
  std::string name;
  std::string from;
  std::map<std::string, std::string> map;
};

// How a dialogue task's answers are judged by a model (scorers/judge.h has the protocols).
// Files are relative to datasets/ and part of the task's hash.
struct JudgeSpec {
  std::string protocol;                          // logickor | mt_bench
  std::string prompts_file;                      // mt_bench: the judge prompts (JSON lines)
  std::string references_file;                   // mt_bench: reference answers (JSON lines)
  std::vector<std::string> reference_categories; // mt_bench: categories judged against a reference
  std::string references_field;                  // logickor: the row's list of per-turn references
  std::string category_field;                    // the row's category: judge metrics are also given per category
  std::string penalty = "none";                  // none | hangul_share_sqrt | sqrt_score_if_not_korean
  std::vector<std::string> penalty_exempt;       // sample ids the penalty is never applied to
};

struct TaskConfig {
  std::string name;
  std::string suite;
  int version = 1;
  std::string description;
  std::string follows;      // which published format the prompt follows
  std::string licence;
  std::string source_file;  // the task file this came from (for messages)
  std::string hash;         // sha256 of the task file's content and its datasets' content

  DatasetSpec dataset;
  std::optional<DatasetSpec> fewshot;
  int num_fewshot = 0;             // default; `--num-fewshot` overrides
  std::string fewshot_sampler = "default"; // default (lm-eval's seeded random draw per sample) | first_n
  std::string fewshot_separator = "\n\n";
  std::string id_field;            // empty: the row's index is its id

  OutputType output_type = OutputType::multiple_choice;
  std::string system_prompt;
  // prompt_strategy: {file, name}: messages sent before the question (after the system prompt),
  // `strategies.<name>` of a JSON file under datasets/ (LogicKor's prompt_strategies.json). The
  // registry reads them into messages_before.
  std::string prompt_strategy_file;
  std::string prompt_strategy_name;
  std::vector<Message> messages_before;
  std::string prompt;              // template of the context (completions / log-likelihood)
  std::string generation_prompt;   // template used in generation mode; empty: `prompt`
  std::string fewshot_target;      // template of a few-shot example's answer
  std::string target_delimiter = " "; // between context and continuation
  std::string choices_field;       // a list field holding the choices, or:
  std::vector<std::string> choices; // templates of the choices
  std::vector<std::string> choice_labels; // what the model answers with in generation mode
  std::string continuations = "choices"; // log-likelihood scores " <choice>" (choices) or " <label>" (labels)
  std::string option_format = "{{label}}. {{choice}}"; // one line of {{options}}
  std::string option_separator = "\n";
  TargetSpec target;
  std::vector<std::string> turns_field_path; // dialogue: the list field holding the turns
  int max_turns = 0;               // dialogue: keep at most this many turns (0: all)
  std::vector<DerivedField> derived;
  GenerationSettings generation;

  std::string scorer;
  std::vector<std::string> metrics;
  nlohmann::json scorer_options = nlohmann::json::object();
  std::vector<std::string> groups;  // groups this task belongs to (filled by the registry)
  std::optional<JudgeSpec> judge;   // dialogue tasks scored by a judge model
};

struct GroupConfig {
  std::string name;
  std::string description;
  std::string source_file;
  std::vector<std::string> members;  // tasks or groups
  std::string aggregate = "macro";   // macro (mean of members) or micro (weighted by samples)
};

// One evaluation item as a model sees it.
struct Sample {
  std::string task;
  std::string id;            // stable: the dataset's own id, else the row's index
  size_t index = 0;          // position in the eval split
  std::string prompt;        // log-likelihood / completions context (few-shot included)
  std::string generation_prompt; // text asked in generation mode; empty: the same as `prompt`
  std::vector<std::string> choices;       // continuations (target delimiter included)
  std::string target_delimiter = " ";      // what each continuation starts with before its choice
  std::vector<std::string> choice_texts;  // the choices without the delimiter
  std::vector<std::string> choice_labels;
  int gold = -1;                           // index of the right choice
  std::vector<std::string> references;     // free-text golds
  std::optional<double> gold_number;       // numeric gold (STS)
  std::vector<std::string> turns;          // dialogue turns
  nlohmann::json fields;                   // the row, for scorers that need metadata

  // The text asked in generation mode (kept once when it equals `prompt`).
  const std::string& asked() const { return generation_prompt.empty() ? prompt : generation_prompt; }
};

// What a chat endpoint gets for a sample in generation mode: the task's system prompt, if any,
// and the sample's text as one user message. Built on demand so samples hold their text once.
std::vector<Message> chat_messages(const TaskConfig& task, const Sample& sample);

// The temperature a sample's answer is generated at (before `--temperature`, which replaces it).
double sampling_temperature(const TaskConfig& task, const Sample& sample);

} // namespace keval
