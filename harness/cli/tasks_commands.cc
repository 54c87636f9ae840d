// `keval tasks` and `keval samples`.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "whitespace_notes.h"
#include "error.h"
#include "text.h"

namespace keval::cli {
namespace {

// Why a task's prompts carry the whitespace they do: a task that follows lm-evaluation-harness
// keeps its layout on purpose, so that scores compare.
std::string whitespace_reason(const TaskConfig& task) {
  if (task.follows.find("lm-evaluation-harness") != std::string::npos)
    return "as lm-evaluation-harness renders it: kept on purpose, so that scores compare";
  return "from the task's template or data";
}

// The whitespace notes of a sample's prompt and chat messages (`prompt`, `messages`: docs/formats.md).
nlohmann::json oddities_json(const TaskConfig& task, const std::string& prompt, const std::vector<Message>& messages) {
  nlohmann::json out = nlohmann::json::array();
  auto add = [&](const std::string& where, const std::string& text) {
    for (const auto& n : whitespace_notes(text))
      out.push_back({{"in", where}, {"what", n.what}, {"count", n.count}, {"line", n.line}, {"column", n.column},
                     {"why", whitespace_reason(task)}});
  };
  add("prompt", prompt);
  for (size_t i = 0; i < messages.size(); ++i) add(fmt::format("messages[{}]", i), messages[i].content);
  return out;
}

nlohmann::json sample_json(const TaskConfig& task, const Sample& s) {
  nlohmann::json j = {{"task", s.task}, {"id", s.id}};
  if (task.output_type == OutputType::dialogue) {
    j["turns"] = s.turns;
    // What a chat endpoint gets for turn 1: system prompt, a strategy's messages, the question.
    nlohmann::json messages = nlohmann::json::array();
    if (!task.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", task.system_prompt}});
    for (const auto& m : task.messages_before) messages.push_back({{"role", m.role}, {"content", m.content}});
    if (!s.turns.empty()) messages.push_back({{"role", "user"}, {"content", s.turns.front()}});
    j["messages"] = messages;
    return j;
  }
  j["prompt"] = s.prompt;
  nlohmann::json messages = nlohmann::json::array();
  const std::vector<Message> chat = chat_messages(task, s);
  for (const auto& m : chat) messages.push_back({{"role", m.role}, {"content", m.content}});
  j["messages"] = messages;
  if (auto oddities = oddities_json(task, s.prompt, chat); !oddities.empty()) j["whitespace"] = std::move(oddities);
  if (task.output_type == OutputType::multiple_choice) {
    j["choices"] = s.choices;
    j["choice_labels"] = s.choice_labels;
    j["gold"] = s.gold;
  } else if (s.gold_number) {
    j["gold"] = *s.gold_number;
  } else {
    j["gold"] = s.references.size() == 1 ? nlohmann::json(s.references.front()) : nlohmann::json(s.references);
  }
  return j;
}

// What a model gets, in text: the completions prompt, then the chat messages; whitespace a reader
// cannot see is named below them.
void print_sample(const TaskConfig& task, const Sample& s, const nlohmann::json& j) {
  fmt::print("── {} / {} ──\n", s.task, s.id);
  if (task.output_type == OutputType::dialogue) {
    for (size_t t = 0; t < s.turns.size(); ++t) fmt::print("[turn {}]\n{}\n", t + 1, s.turns[t]);
    fmt::print("\n");
    return;
  }
  fmt::print("[prompt: what a completions endpoint gets{}]\n{}\n", s.choices.empty() ? "" : ", the choices scored after it",
             s.prompt);
  fmt::print("[messages: what a chat endpoint gets]\n");
  for (const auto& m : j["messages"])
    fmt::print("<{}>\n{}\n", m["role"].get<std::string>(), m["content"].get<std::string>());
  fmt::print("[answer]\n");
  if (!s.choices.empty()) {
    // "*" marks the gold; the scored continuation is shown when it is not the choice's text.
    for (size_t c = 0; c < s.choices.size(); ++c) {
      bool label_scored = s.choices[c] != task.target_delimiter + s.choice_texts[c];
      fmt::print("  {} {}  {}{}\n", static_cast<int>(c) == s.gold ? "*" : " ", s.choice_labels[c], s.choice_texts[c],
                 label_scored ? fmt::format("   [log-likelihood of '{}']", s.choices[c]) : "");
    }
  } else {
    fmt::print("  gold: {}\n", j["gold"].is_string() ? j["gold"].get<std::string>() : j["gold"].dump());
  }
  for (const auto& n : j.value("whitespace", nlohmann::json::array()))
    fmt::print("  ! {}: {}{} (first at line {}, column {}), {}\n", n["in"].get<std::string>(), n["what"].get<std::string>(),
               n["count"].get<int>() > 1 ? fmt::format(" ×{}", n["count"].get<int>()) : "", n["line"].get<int>(),
               n["column"].get<int>(), n["why"].get<std::string>());
  fmt::print("\n");
}

} // namespace

Action add_tasks_command(CLI::App& app, const GlobalOptions& global) {
  auto json = std::make_shared<bool>(false);
  app.add_flag("--json", *json, "Print JSON");
  return [json, &global]() {
    TaskRegistry registry(global.paths());
    nlohmann::json tasks = nlohmann::json::array();
    std::map<std::string, size_t> counts;
    for (const auto& t : registry.tasks()) {
      size_t n = registry.count(t);
      counts[t.name] = n;
      tasks.push_back({{"name", t.name}, {"suite", t.suite}, {"output_type", to_string(t.output_type)},
                       {"metrics", t.metrics}, {"samples", n}, {"split", t.dataset.split}, {"licence", t.licence},
                       {"version", t.version}, {"groups", t.groups}, {"follows", t.follows}});
    }
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : registry.groups()) {
      size_t n = 0;
      auto members = registry.group_tasks(g.name);
      for (const auto& m : members) n += counts[m];
      groups.push_back({{"name", g.name}, {"members", g.members}, {"tasks", members.size()}, {"samples", n},
                        {"aggregate", g.aggregate}});
    }
    // Suites, as `--tasks` reads them: a suite's name selects its tasks (where no task or group
    // has that name).
    nlohmann::json suites = nlohmann::json::array();
    std::map<std::string, size_t> suite_index;
    for (const auto& t : registry.tasks()) {
      auto [it, added] = suite_index.emplace(t.suite, suites.size());
      if (added) suites.push_back({{"name", t.suite}, {"tasks", nlohmann::json::array()}, {"samples", 0}});
      suites[it->second]["tasks"].push_back(t.name);
      suites[it->second]["samples"] = suites[it->second]["samples"].get<size_t>() + counts[t.name];
    }
    if (*json) {
      fmt::print("{}\n", nlohmann::json{{"tasks", tasks}, {"groups", groups}, {"suites", suites}}.dump(2));
      return 0;
    }
    fmt::print("{:<44} {:<16} {:<16} {:<28} {:>7}  {}\n", "task", "suite", "output", "metrics", "samples", "licence");
    for (const auto& t : tasks)
      fmt::print("{:<44} {:<16} {:<16} {:<28} {:>7}  {}\n", t["name"].get<std::string>(), t["suite"].get<std::string>(),
                 t["output_type"].get<std::string>(), text::join(t["metrics"].get<std::vector<std::string>>(), ","),
                 t["samples"].get<size_t>(), t["licence"].get<std::string>());
    fmt::print("\n{:<44} {:<8} {:>7}  {}\n", "group", "tasks", "samples", "aggregate");
    for (const auto& g : groups)
      fmt::print("{:<44} {:<8} {:>7}  {}\n", g["name"].get<std::string>(), g["tasks"].get<size_t>(),
                 g["samples"].get<size_t>(), g["aggregate"].get<std::string>());
    fmt::print("\n{:<44} {:<8} {:>7}\n", "suite", "tasks", "samples");
    for (const auto& su : suites)
      fmt::print("{:<44} {:<8} {:>7}\n", su["name"].get<std::string>(), su["tasks"].size(), su["samples"].get<size_t>());
    fmt::print("\n{} tasks, {} groups, {} suites; --tasks takes any of these names\n", tasks.size(), groups.size(),
               suites.size());
    return 0;
  };
}

Action add_samples_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string tasks;
    std::optional<long long> limit;
    std::optional<int> num_fewshot;
    std::int64_t fewshot_seed = k_default_fewshot_seed;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--task,--tasks", o->tasks, "Task, group or suite names, comma-separated")->required();
  app.add_option("--limit", o->limit, "Show the first N samples of each task (N >= 1)");
  app.add_option("--num-fewshot", o->num_fewshot, "Few-shot examples (default: the task's)");
  app.add_option("--fewshot-seed", o->fewshot_seed, "Seed of the task's few-shot draw (lm-evaluation-harness: 1234)")
      ->capture_default_str();
  app.add_flag("--json", o->json, "One JSON object a line");
  return [o, &global]() {
    if (o->limit && *o->limit < 1)
      throw InputError(fmt::format("--limit {}: give 1 or more samples per task (leave --limit out for every sample)", *o->limit));
    std::optional<size_t> limit;
    if (o->limit) limit = static_cast<size_t>(*o->limit);
    TaskRegistry registry(global.paths());
    for (const TaskConfig* task : registry.resolve(text::split(o->tasks, ','))) {
      for (const auto& s : registry.samples(*task, o->num_fewshot, limit, o->fewshot_seed)) {
        nlohmann::json j = sample_json(*task, s);
        if (o->json) fmt::print("{}\n", j.dump());
        else print_sample(*task, s, j);
      }
    }
    return 0;
  };
}

} // namespace keval::cli
