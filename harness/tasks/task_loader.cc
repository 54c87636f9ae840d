#include "task_loader.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "dataset.h"
#include "judge.h"
#include "scorer.h"
#include "error.h"
#include "text.h"
#include "yaml_file.h"

namespace keval {
namespace {

struct Entry {
  YAML::Node value;
  std::string file;
  int line = 0;  // 1-based
};
using Entries = std::map<std::string, Entry>;

std::string at(const Entry& e) { return fmt::format("{}:{}", e.file, e.line); }

std::string suggestion(const std::string& name, const std::vector<std::string>& allowed) {
  auto near = text::closest(name, allowed);
  std::string out;
  if (!near.empty()) out += fmt::format("; did you mean '{}'?", near.front());
  out += fmt::format(" (allowed: {})", text::join(allowed, ", "));
  return out;
}

Entries read_entries(const std::string& path, const std::string& display, int depth) {
  if (depth > 8) throw InputError(fmt::format("{}: includes nest too deep (a cycle?)", display));
  YAML::Node root = load_yaml_file(path, display, "task or group file");
  if (!root.IsMap()) throw InputError(fmt::format("{}:1: a task file must be a YAML mapping of keys", display));
  Entries own;
  for (auto it = root.begin(); it != root.end(); ++it)
    own[it->first.Scalar()] = Entry{it->second, display, it->first.Mark().line + 1};
  auto inc = own.find("include");
  if (inc == own.end()) return own;
  if (!inc->second.value.IsScalar()) throw InputError(fmt::format("{}: 'include' must be a file name", at(inc->second)));
  std::string base_name = inc->second.value.Scalar();
  std::filesystem::path base_path = std::filesystem::path(path).parent_path() / base_name;
  std::string base_display = (std::filesystem::path(display).parent_path() / base_name).string();
  std::error_code missing;
  if (!std::filesystem::exists(base_path, missing))
    throw InputError(fmt::format("{}: included file '{}' not found", at(inc->second), base_name));
  // Not a device or a pipe (/dev/zero, /dev/stdin): those would never end or would block.
  if (!std::filesystem::is_regular_file(base_path, missing))
    throw InputError(fmt::format("{}: included '{}' is not a regular file", at(inc->second), base_name));
  Entries merged = read_entries(base_path.string(), base_display, depth + 1);
  own.erase(inc);
  for (auto& [key, entry] : own) merged[key] = std::move(entry);
  return merged;
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined: return nullptr;
  case YAML::NodeType::Sequence: {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& child : node) arr.push_back(yaml_to_json(child));
    return arr;
  }
  case YAML::NodeType::Map: {
    nlohmann::json obj = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it) obj[it->first.Scalar()] = yaml_to_json(it->second);
    return obj;
  }
  case YAML::NodeType::Scalar: {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s; // quoted: always a string
    if (s == "true" || s == "True") return true;
    if (s == "false" || s == "False") return false;
    if (s == "null" || s == "~") return nullptr;
    try {
      size_t used = 0;
      long long i = std::stoll(s, &used);
      if (used == s.size()) return i;
      double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d)) return d;  // "nan" and "inf" stay text
    } catch (...) {
    }
    return s;
  }
  }
  return nullptr;
}

// Typed access with errors that name file and line.
class Fields {
public:
  Fields(const Entries& entries, std::string display) : m_entries(entries), m_display(std::move(display)) {}

  void check_keys(const std::vector<std::string>& allowed) const {
    for (const auto& [key, entry] : m_entries)
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        throw InputError(fmt::format("{}: unknown key '{}'{}", at(entry), key, suggestion(key, allowed)));
  }
  bool has(const std::string& key) const { return m_entries.count(key) > 0; }
  const Entry& require(const std::string& key) const {
    auto it = m_entries.find(key);
    if (it == m_entries.end()) throw InputError(fmt::format("{}: missing required key '{}'", m_display, key));
    return it->second;
  }
  std::string string(const std::string& key, const std::string& fallback = "", bool required = false) const {
    if (!has(key)) {
      if (required) require(key);
      return fallback;
    }
    const Entry& e = m_entries.at(key);
    if (!e.value.IsScalar()) throw InputError(fmt::format("{}: '{}' must be a string", at(e), key));
    return e.value.Scalar();
  }
  int integer(const std::string& key, int fallback, bool required = false) const {
    if (!has(key)) {
      if (required) require(key);
      return fallback;
    }
    const Entry& e = m_entries.at(key);
    try {
      return e.value.as<int>();
    } catch (const YAML::Exception&) {
      throw InputError(fmt::format("{}: '{}' must be an integer", at(e), key));
    }
  }
  std::vector<std::string> strings(const std::string& key, bool required = false) const {
    if (!has(key)) {
      if (required) require(key);
      return {};
    }
    const Entry& e = m_entries.at(key);
    if (e.value.IsScalar()) return {e.value.Scalar()};
    if (!e.value.IsSequence()) throw InputError(fmt::format("{}: '{}' must be a list of strings", at(e), key));
    std::vector<std::string> out;
    for (const auto& item : e.value) {
      if (!item.IsScalar()) throw InputError(fmt::format("{}: '{}' must be a list of strings", at(e), key));
      out.push_back(item.Scalar());
    }
    return out;
  }
  const Entry* entry(const std::string& key) const {
    auto it = m_entries.find(key);
    return it == m_entries.end() ? nullptr : &it->second;
  }
  const std::string& display() const { return m_display; }

private:
  const Entries& m_entries;
  std::string m_display;
};

// A nested mapping (dataset, target, generation…) as Entries, lines kept.
Entries sub_entries(const Entry& parent, const std::string& key) {
  if (!parent.value.IsMap()) throw InputError(fmt::format("{}: '{}' must be a mapping", at(parent), key));
  Entries out;
  for (auto it = parent.value.begin(); it != parent.value.end(); ++it)
    out[it->first.Scalar()] = Entry{it->second, parent.file, it->first.Mark().line + 1};
  return out;
}

DatasetSpec read_dataset(const Entry& parent, const std::string& key) {
  Entries entries = sub_entries(parent, key);
  Fields f(entries, at(parent));
  f.check_keys({"file", "files", "format", "split", "filter", "list_fields"});
  DatasetSpec spec;
  if (f.has("file") && f.has("files")) throw InputError(fmt::format("{}: give 'file' or 'files', not both", at(parent)));
  spec.files = f.has("file") ? f.strings("file") : f.strings("files");
  if (spec.files.empty()) throw InputError(fmt::format("{}: '{}' needs 'file' or 'files'", at(parent), key));
  spec.format = f.string("format", "", true);
  if (std::find(k_dataset_formats.begin(), k_dataset_formats.end(), spec.format) == k_dataset_formats.end())
    throw InputError(fmt::format("{}: unknown dataset format '{}'{}", at(f.require("format")), spec.format,
                                 suggestion(spec.format, k_dataset_formats)));
  spec.split = f.string("split");
  if (const Entry* filter = f.entry("filter")) {
    for (auto& [field, e] : sub_entries(*filter, "filter")) {
      if (!e.value.IsScalar()) throw InputError(fmt::format("{}: filter values must be strings", at(e)));
      spec.filter[field] = e.value.Scalar();
    }
  }
  spec.list_fields = f.strings("list_fields");
  return spec;
}

const std::vector<std::string> k_task_keys = {
    "task", "suite", "version", "description", "follows", "licence", "dataset", "fewshot", "num_fewshot",
    "fewshot_sampler",
    "fewshot_separator", "fewshot_target", "id_field", "output_type", "system_prompt", "prompt_strategy", "prompt",
    "generation_prompt", "target_delimiter", "choices", "choices_field", "choice_labels", "continuations", "option_format",
    "option_separator", "target", "derived", "turns_field", "max_turns", "generation", "scorer",
    "scorer_options", "metrics", "judge"};
const std::vector<std::string> k_group_keys = {"group", "description", "tasks", "aggregate"};
const std::vector<std::string> k_output_types = {"multiple_choice", "generate", "dialogue"};
const std::vector<std::string> k_target_kinds = {"index", "label_map", "choice_text", "text", "texts", "number"};

void check_name(const Entry& e, const std::string& name, const char* what) {
  bool ok = !name.empty();
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) throw InputError(fmt::format("{}: {} name '{}' must be lower-case letters, digits and '_'", at(e), what, name));
}

GroupConfig read_group(const Fields& f) {
  f.check_keys(k_group_keys);
  GroupConfig g;
  g.name = f.string("group", "", true);
  check_name(f.require("group"), g.name, "group");
  g.description = f.string("description");
  g.members = f.strings("tasks", true);
  if (g.members.empty()) throw InputError(fmt::format("{}: 'tasks' is empty", at(f.require("tasks"))));
  g.aggregate = f.string("aggregate", "macro");
  if (g.aggregate != "macro" && g.aggregate != "micro")
    throw InputError(fmt::format("{}: unknown aggregate '{}'{}", at(f.require("aggregate")), g.aggregate,
                                 suggestion(g.aggregate, {"macro", "micro"})));
  g.source_file = f.display();
  return g;
}

JudgeSpec read_judge(const Entry& parent) {
  Entries entries = sub_entries(parent, "judge");
  Fields f(entries, at(parent));
  f.check_keys({"protocol", "prompts", "references", "reference_categories", "references_field", "category_field",
                "penalty", "penalty_exempt"});
  JudgeSpec j;
  j.protocol = f.string("protocol", "", true);
  const auto protocols = judge_protocol_names();
  if (std::find(protocols.begin(), protocols.end(), j.protocol) == protocols.end())
    throw InputError(fmt::format("{}: unknown judge protocol '{}'{}", at(f.require("protocol")), j.protocol,
                                 suggestion(j.protocol, protocols)));
  j.prompts_file = f.string("prompts");
  j.references_file = f.string("references");
  j.reference_categories = f.strings("reference_categories");
  j.references_field = f.string("references_field");
  j.category_field = f.string("category_field");
  j.penalty = f.string("penalty", "none");
  if (std::find(k_judge_penalties.begin(), k_judge_penalties.end(), j.penalty) == k_judge_penalties.end())
    throw InputError(fmt::format("{}: unknown penalty '{}'{}", at(f.require("penalty")), j.penalty,
                                 suggestion(j.penalty, k_judge_penalties)));
  j.penalty_exempt = f.strings("penalty_exempt");
  if (j.protocol == "mt_bench" && j.prompts_file.empty())
    throw InputError(fmt::format("{}: judge protocol 'mt_bench' needs 'prompts' (a judge prompts file)", at(parent)));
  if (j.protocol == "logickor" && j.prompts_file.empty())
    throw InputError(fmt::format("{}: judge protocol 'logickor' needs 'prompts' (LogicKor's judge_template.json)", at(parent)));
  return j;
}

TaskConfig read_task(const Fields& f) {
  f.check_keys(k_task_keys);
  TaskConfig t;
  t.source_file = f.display();
  t.name = f.string("task", "", true);
  check_name(f.require("task"), t.name, "task");
  t.suite = f.string("suite", "", true);
  t.version = f.integer("version", 1, true);
  t.description = f.string("description");
  t.follows = f.string("follows");
  t.licence = f.string("licence", "", true);
  t.dataset = read_dataset(f.require("dataset"), "dataset");
  if (const Entry* e = f.entry("fewshot")) t.fewshot = read_dataset(*e, "fewshot");
  t.num_fewshot = f.integer("num_fewshot", 0);
  if (t.num_fewshot > 0 && !t.fewshot)
    throw InputError(fmt::format("{}: num_fewshot > 0 needs a 'fewshot' source", at(f.require("num_fewshot"))));
  t.fewshot_sampler = f.string("fewshot_sampler", "default");
  if (t.fewshot_sampler != "default" && t.fewshot_sampler != "first_n")
    throw InputError(fmt::format("{}: unknown fewshot_sampler '{}'{}", at(f.require("fewshot_sampler")), t.fewshot_sampler,
                                 suggestion(t.fewshot_sampler, {"default", "first_n"})));
  t.fewshot_separator = f.string("fewshot_separator", "\n\n");
  t.fewshot_target = f.string("fewshot_target");
  t.id_field = f.string("id_field");

  std::string output = f.string("output_type", "", true);
  if (output == "multiple_choice") t.output_type = OutputType::multiple_choice;
  else if (output == "generate") t.output_type = OutputType::generate;
  else if (output == "dialogue") t.output_type = OutputType::dialogue;
  else
    throw InputError(fmt::format("{}: unknown output_type '{}'{}", at(f.require("output_type")), output,
                                 suggestion(output, k_output_types)));

  t.system_prompt = f.string("system_prompt");
  if (const Entry* strategy = f.entry("prompt_strategy")) {
    const nlohmann::json j = yaml_to_json(strategy->value);
    if (!j.is_object() || j.size() != 2 || !j.contains("file") || !j.at("file").is_string() || !j.contains("name") ||
        !j.at("name").is_string())
      throw InputError(fmt::format("{}: 'prompt_strategy' must be a mapping with 'file' (under datasets/) and 'name'",
                                   at(*strategy)));
    t.prompt_strategy_file = j.at("file").get<std::string>();
    t.prompt_strategy_name = j.at("name").get<std::string>();
  }
  t.prompt = f.string("prompt", "", t.output_type != OutputType::dialogue);
  t.generation_prompt = f.string("generation_prompt");
  t.target_delimiter = f.string("target_delimiter", " ");
  t.choices = f.strings("choices");
  t.choices_field = f.string("choices_field");
  t.choice_labels = f.strings("choice_labels");
  t.continuations = f.string("continuations", "choices");
  if (t.continuations != "choices" && t.continuations != "labels")
    throw InputError(fmt::format("{}: unknown continuations '{}'{}", at(f.require("continuations")), t.continuations,
                                 suggestion(t.continuations, {"choices", "labels"})));
  t.option_format = f.string("option_format", "{{label}}. {{choice}}");
  t.option_separator = f.string("option_separator", "\n");
  if (t.output_type == OutputType::multiple_choice) {
    if (t.choices.empty() == t.choices_field.empty())
      throw InputError(fmt::format("{}: a multiple_choice task needs exactly one of 'choices' or 'choices_field'", f.display()));
    if (t.choice_labels.empty())
      throw InputError(fmt::format("{}: missing required key 'choice_labels' (labels for generation mode)", f.display()));
  }

  if (t.output_type != OutputType::dialogue) {
    const Entry& target = f.require("target");
    Entries entries = sub_entries(target, "target");
    Fields tf(entries, at(target));
    tf.check_keys({"field", "kind", "base", "map"});
    t.target.field = tf.string("field", "", true);
    t.target.kind = tf.string("kind", "index");
    if (std::find(k_target_kinds.begin(), k_target_kinds.end(), t.target.kind) == k_target_kinds.end())
      throw InputError(fmt::format("{}: unknown target kind '{}'{}", at(tf.require("kind")), t.target.kind,
                                   suggestion(t.target.kind, k_target_kinds)));
    t.target.base = tf.integer("base", 0);
    if (const Entry* m = tf.entry("map"))
      for (auto& [label, e] : sub_entries(*m, "map")) {
        try {
          t.target.label_map[label] = e.value.as<int>();
        } catch (const YAML::Exception&) {
          throw InputError(fmt::format("{}: target map values must be choice indexes (integers)", at(e)));
        }
      }
    if (t.target.kind == "label_map" && t.target.label_map.empty())
      throw InputError(fmt::format("{}: target kind 'label_map' needs a 'map'", at(target)));
  } else if (f.has("target")) {
    throw InputError(fmt::format("{}: a dialogue task has no 'target'", at(f.require("target"))));
  }

  if (const Entry* d = f.entry("derived")) {
    if (!d->value.IsSequence()) throw InputError(fmt::format("{}: 'derived' must be a list", at(*d)));
    for (const auto& item : d->value) {
      Entry item_entry{item, d->file, item.Mark().line + 1};
      Entries entries = sub_entries(item_entry, "derived");
      Fields df(entries, at(item_entry));
      df.check_keys({"name", "from", "map"});
      DerivedField field;
      field.name = df.string("name", "", true);
      field.from = df.string("from", "", true);
      for (auto& [key, e] : sub_entries(df.require("map"), "map")) field.map[key] = e.value.Scalar();
      t.derived.push_back(std::move(field));
    }
  }

  std::string turns = f.string("turns_field");
  if (!turns.empty()) t.turns_field_path = {turns};
  t.max_turns = f.integer("max_turns", 0);
  if (t.output_type == OutputType::dialogue && turns.empty())
    throw InputError(fmt::format("{}: a dialogue task needs 'turns_field'", f.display()));

  if (const Entry* g = f.entry("generation")) {
    Entries entries = sub_entries(*g, "generation");
    Fields gf(entries, at(*g));
    gf.check_keys({"max_tokens", "stop", "temperature", "temperature_by"});
    t.generation.max_tokens = gf.integer("max_tokens", 256);
    t.generation.stop = gf.strings("stop");
    if (const Entry* temp = gf.entry("temperature")) {
      try {
        t.generation.temperature = temp->value.as<double>();
      } catch (const YAML::Exception&) {
        throw InputError(fmt::format("{}: 'temperature' must be a number", at(*temp)));
      }
    }
    // temperature_by: {field: category, values: {writing: 0.7, …}}
    if (const Entry* by = gf.entry("temperature_by")) {
      const nlohmann::json j = yaml_to_json(by->value);
      if (!j.is_object() || !j.contains("field") || !j.at("field").is_string() || !j.contains("values") ||
          !j.at("values").is_object() || j.size() != 2)
        throw InputError(fmt::format("{}: 'temperature_by' must be a mapping with 'field' (a row field) and 'values' "
                                     "(field value: temperature)", at(*by)));
      t.generation.temperature_field = j.at("field").get<std::string>();
      for (const auto& [value, temperature] : j.at("values").items()) {
        if (!temperature.is_number() || temperature.get<double>() < 0)
          throw InputError(fmt::format("{}: temperature_by.values.{} must be a number 0 or more", at(*by), value));
        t.generation.temperature_by_value[value] = temperature.get<double>();
      }
    }
  }

  t.scorer = f.string("scorer", "", true);
  auto scorers = scorer_names();
  if (std::find(scorers.begin(), scorers.end(), t.scorer) == scorers.end())
    throw InputError(fmt::format("{}: unknown scorer '{}'{}", at(f.require("scorer")), t.scorer, suggestion(t.scorer, scorers)));
  if (const Entry* o = f.entry("scorer_options")) {
    t.scorer_options = yaml_to_json(o->value);
    if (!t.scorer_options.is_object()) throw InputError(fmt::format("{}: 'scorer_options' must be a mapping", at(*o)));
  }
  try {
    make_scorer(t.scorer, t.scorer_options); // validates the options
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", at(f.entry("scorer_options") ? *f.entry("scorer_options") : f.require("scorer")), e.what()));
  }
  if (const Entry* j = f.entry("judge")) {
    if (t.output_type != OutputType::dialogue)
      throw InputError(fmt::format("{}: only a dialogue task has a 'judge'", at(*j)));
    t.judge = read_judge(*j);
  }
  t.metrics = f.strings("metrics", true);
  auto allowed = scorer_metrics(t.scorer);
  if (t.judge)
    for (const auto& m : judge_metrics(t.judge->protocol)) allowed.push_back(m);
  for (const auto& m : t.metrics)
    if (std::find(allowed.begin(), allowed.end(), m) == allowed.end())
      throw InputError(fmt::format("{}: scorer '{}' does not produce metric '{}'{}", at(f.require("metrics")), t.scorer, m,
                                   suggestion(m, allowed)));
  if (t.metrics.empty()) throw InputError(fmt::format("{}: 'metrics' is empty", at(f.require("metrics"))));
  return t;
}

} // namespace

TaskFile load_task_file(const std::string& path, const std::string& display_path) {
  Entries entries = read_entries(path, display_path, 0);
  TaskFile out;
  out.canonical = nlohmann::json::object();
  for (const auto& [key, entry] : entries) out.canonical[key] = yaml_to_json(entry.value);
  Fields f(entries, display_path);
  bool is_group = f.has("group");
  bool is_task = f.has("task");
  if (is_group && is_task) throw InputError(fmt::format("{}: a file is a task ('task:') or a group ('group:'), not both", display_path));
  if (is_group) out.group = read_group(f);
  else if (is_task) out.task = read_task(f);
  else throw InputError(fmt::format("{}: missing required key 'task' (or 'group' for a group file)", display_path));
  return out;
}

} // namespace keval
