#include "registry.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "samples.h"
#include "task_loader.h"
#include "delimited.h"
#include "error.h"
#include "sha256.h"
#include "text.h"

namespace fs = std::filesystem;

namespace keval {

KevalPaths KevalPaths::defaults() {
  const char* home = std::getenv("KEVAL_HOME");
  std::string root = home && *home ? home : KEVAL_SOURCE_DIR;
  return KevalPaths{(fs::path(root) / "tasks").string(), (fs::path(root) / "datasets").string()};
}

TaskRegistry::TaskRegistry(const KevalPaths& paths) : m_paths(paths), m_datasets(paths.datasets_dir) {
  if (!fs::is_directory(paths.tasks_dir)) throw InputError(fmt::format("tasks directory '{}' not found", paths.tasks_dir));
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(paths.tasks_dir)) {
    if (!entry.is_regular_file()) continue;
    auto ext = entry.path().extension();
    if (ext != ".yaml" && ext != ".yml") continue;
    if (entry.path().filename().string().starts_with("_")) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  // Errors name files as "tasks/…": relative to the tasks directory's parent, made absolute first
  // so that a relative --tasks-dir ("tasks", "tasks/") does not leave an empty name.
  fs::path tasks_root = fs::absolute(paths.tasks_dir).lexically_normal();
  if (!tasks_root.has_filename()) tasks_root = tasks_root.parent_path();
  const fs::path display_root = tasks_root.parent_path();
  std::map<std::string, std::string> declared;  // name -> file
  for (const auto& file : files) {
    std::string display = fs::absolute(file).lexically_normal().lexically_relative(display_root).string();
    if (display.empty()) display = file.string();
    TaskFile loaded = load_task_file(file.string(), display);
    const std::string& name = loaded.task ? loaded.task->name : loaded.group->name;
    auto [it, inserted] = declared.emplace(name, display);
    if (!inserted) throw InputError(fmt::format("{}: '{}' is already declared in {}", display, name, it->second));
    if (loaded.task) {
      if (!loaded.task->prompt_strategy_file.empty()) load_prompt_strategy(*loaded.task);
      m_task_index[name] = m_tasks.size();
      m_canonical[name] = loaded.canonical.dump();
      m_tasks.push_back(std::move(*loaded.task));
    } else {
      m_group_index[name] = m_groups.size();
      m_groups.push_back(std::move(*loaded.group));
    }
  }
  for (const auto& g : m_groups)
    for (const auto& member : g.members)
      if (!find_task(member) && !find_group(member)) {
        std::vector<std::string> names;
        for (const auto& [n, f] : declared) names.push_back(n);
        auto near = text::closest(member, names);
        throw InputError(fmt::format("{}: group '{}' names unknown task or group '{}'{}", g.source_file, g.name, member,
                                     near.empty() ? "" : fmt::format("; did you mean '{}'?", near.front())));
      }
  for (const auto& g : m_groups) {
    // A group that contains itself would expand forever.
    std::function<void(const std::string&, std::vector<std::string>&)> walk = [&](const std::string& name, std::vector<std::string>& path) {
      if (std::find(path.begin(), path.end(), name) != path.end())
        throw InputError(fmt::format("{}: group '{}' contains itself ({})", g.source_file, g.name, text::join(path, " > ")));
      const GroupConfig* group = find_group(name);
      if (!group) return;
      path.push_back(name);
      for (const auto& m : group->members) walk(m, path);
      path.pop_back();
    };
    std::vector<std::string> path;
    walk(g.name, path);
    for (const auto& member : g.members)
      if (auto it = m_task_index.find(member); it != m_task_index.end()) m_tasks[it->second].groups.push_back(g.name);
  }
}

const TaskConfig* TaskRegistry::find_task(const std::string& name) const {
  auto it = m_task_index.find(name);
  return it == m_task_index.end() ? nullptr : &m_tasks[it->second];
}

const GroupConfig* TaskRegistry::find_group(const std::string& name) const {
  auto it = m_group_index.find(name);
  return it == m_group_index.end() ? nullptr : &m_groups[it->second];
}

std::vector<std::string> TaskRegistry::group_tasks(const std::string& group) const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::function<void(const std::string&)> walk = [&](const std::string& name) {
    if (const GroupConfig* g = find_group(name)) {
      for (const auto& m : g->members) walk(m);
    } else if (seen.insert(name).second) {
      out.push_back(name);
    }
  };
  walk(group);
  return out;
}

std::vector<std::string> TaskRegistry::groups_of(const std::string& task) const {
  const TaskConfig* t = find_task(task);
  return t ? t->groups : std::vector<std::string>{};
}

std::vector<std::string> TaskRegistry::suite_tasks(const std::string& suite) const {
  std::vector<std::string> out;
  for (const auto& t : m_tasks)
    if (t.suite == suite) out.push_back(t.name);
  return out;
}

std::vector<const TaskConfig*> TaskRegistry::resolve(const std::vector<std::string>& names) const {
  std::vector<const TaskConfig*> out;
  std::set<std::string> seen;
  for (const auto& raw : names) {
    std::string name = text::trim(raw);
    if (name.empty()) continue;
    std::vector<std::string> members;
    if (name == "all" && !find_task(name) && !find_group(name)) {
      for (const auto& t : m_tasks) members.push_back(t.name);
    } else if (find_task(name)) members = {name};
    else if (find_group(name)) members = group_tasks(name);
    else if (auto suite = suite_tasks(name); !suite.empty()) members = suite;
    else {
      std::vector<std::string> all;
      for (const auto& t : m_tasks) all.push_back(t.name);
      for (const auto& g : m_groups) all.push_back(g.name);
      for (const auto& t : m_tasks)
        if (std::find(all.begin(), all.end(), t.suite) == all.end()) all.push_back(t.suite);
      auto near = text::closest(name, all);
      throw InputError(fmt::format("unknown task, group or suite '{}'{}; `keval tasks` lists them", name,
                                   near.empty() ? "" : fmt::format("; did you mean '{}'?", text::join(near, "', '"))));
    }
    for (const auto& m : members)
      if (seen.insert(m).second) out.push_back(find_task(m));
  }
  if (out.empty()) throw InputError("no task named: give --tasks NAME[,NAME…]");
  return out;
}

void TaskRegistry::focus(const TaskConfig& task) {
  std::vector<std::string> files = task.dataset.files;
  if (task.fewshot) files.insert(files.end(), task.fewshot->files.begin(), task.fewshot->files.end());
  m_datasets.retain_only(files);
}

DatasetRows TaskRegistry::rows(const TaskConfig& task) {
  focus(task);
  return m_datasets.load(task.dataset, task.source_file);
}

size_t TaskRegistry::count(const TaskConfig& task) {
  focus(task);
  return m_datasets.count(task.dataset, task.source_file);
}

void TaskRegistry::load_prompt_strategy(TaskConfig& task) const {
  const std::string& file = task.prompt_strategy_file;
  const std::string path = (fs::path(m_paths.datasets_dir) / file).string();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text::strip_bom(read_file(path)));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: prompt_strategy: {}: malformed JSON: {}", task.source_file, file, e.what()));
  }
  const nlohmann::json* messages = nullptr;
  if (doc.is_object() && doc.contains("strategies") && doc.at("strategies").is_object() &&
      doc.at("strategies").contains(task.prompt_strategy_name))
    messages = &doc.at("strategies").at(task.prompt_strategy_name);
  if (!messages || !messages->is_array())
    throw InputError(fmt::format("{}: prompt_strategy: {} has no list strategies.{}", task.source_file, file,
                                 task.prompt_strategy_name));
  for (const auto& m : *messages) {
    if (!m.is_object() || !m.contains("role") || !m.at("role").is_string() || !m.contains("content") ||
        !m.at("content").is_string())
      throw InputError(fmt::format("{}: prompt_strategy: {}: strategies.{} holds a message without role and content",
                                   task.source_file, file, task.prompt_strategy_name));
    task.messages_before.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  }
}

std::string TaskRegistry::task_hash(const TaskConfig& task) {
  focus(task);
  Sha256 hash;
  hash.update(m_canonical.at(task.name));
  hash.update(m_datasets.sha256(task.dataset, task.source_file));
  if (task.fewshot) hash.update(m_datasets.sha256(*task.fewshot, task.source_file));
  if (task.judge) hash.update(judge_data(task).sha256);
  for (const auto& m : task.messages_before) hash.update(m.role + "\n" + m.content + "\n");
  return hash.hex_digest();
}

std::vector<Sample> TaskRegistry::samples(const TaskConfig& task, std::optional<int> num_fewshot, std::optional<size_t> limit,
                                          std::int64_t fewshot_seed) {
  SampleBuilder builder = sample_builder(task, num_fewshot, limit, false, fewshot_seed);
  return builder.build(0, builder.size());
}

SampleBuilder TaskRegistry::sample_builder(const TaskConfig& task, std::optional<int> num_fewshot,
                                           std::optional<size_t> limit, bool keep_cached, std::int64_t fewshot_seed) {
  focus(task);
  std::optional<DatasetRows> fewshot_rows;
  if (task.fewshot) fewshot_rows = m_datasets.load(*task.fewshot, task.source_file);
  DatasetRows eval_rows = keep_cached ? m_datasets.load(task.dataset, task.source_file)
                                      : m_datasets.take(task.dataset, task.source_file);
  FewshotOptions fewshot;
  fewshot.count = num_fewshot.value_or(task.num_fewshot);
  fewshot.seed = fewshot_seed;
  return SampleBuilder(task, std::move(eval_rows), std::move(fewshot_rows), fewshot, limit);
}

JudgeData TaskRegistry::judge_data(const TaskConfig& task) {
  JudgeData data;
  if (!task.judge) return data;
  Sha256 hash;
  auto read = [&](const std::string& file) {
    DatasetSpec spec;
    spec.files = {file};
    spec.format = "jsonl";
    DatasetRows rows = m_datasets.load(spec, task.source_file);
    hash.update(rows.sha256);
    std::vector<nlohmann::json> out;
    out.reserve(rows.rows.size());
    for (size_t i = 0; i < rows.rows.size(); ++i) out.push_back(rows.rows[i]);
    return out;
  };
  // A `.json` prompts file is one JSON document (LogicKor's judge template), not JSON lines.
  if (text::ends_with(task.judge->prompts_file, ".json")) {
    const std::string content = read_file(m_datasets.root() + "/" + task.judge->prompts_file);
    hash.update(content);
    try {
      data.prompts = {nlohmann::json::parse(text::strip_bom(content))};
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: malformed JSON: {}", task.judge->prompts_file, e.what()));
    }
  } else if (!task.judge->prompts_file.empty()) {
    data.prompts = read(task.judge->prompts_file);
  }
  if (!task.judge->references_file.empty()) data.references = read(task.judge->references_file);
  data.sha256 = hash.hex_digest();
  return data;
}

} // namespace keval
