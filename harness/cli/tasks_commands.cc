// `keval tasks` and `keval samples`.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "util/error.h"
#include "util/text.h"

namespace keval::cli {
namespace {

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
  for (const auto& m : chat_messages(task, s)) messages.push_back({{"role", m.role}, {"content", m.content}});
  j["messages"] = messages;
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
    if (*json) {
      fmt::print("{}\n", nlohmann::json{{"tasks", tasks}, {"groups", groups}}.dump(2));
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
    fmt::print("\n{} tasks, {} groups\n", tasks.size(), groups.size());
    return 0;
  };
}

Action add_samples_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string task;
    std::optional<size_t> limit;
    std::optional<int> num_fewshot;
    std::int64_t fewshot_seed = k_default_fewshot_seed;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--task", o->task, "Task name")->required();
  app.add_option("--limit", o->limit, "Show the first N samples");
  app.add_option("--num-fewshot", o->num_fewshot, "Few-shot examples (default: the task's)");
  app.add_option("--fewshot-seed", o->fewshot_seed, "Seed of the task's few-shot draw (lm-evaluation-harness: 1234)")
      ->capture_default_str();
  app.add_flag("--json", o->json, "One JSON object a line");
  return [o, &global]() {
    TaskRegistry registry(global.paths());
    auto resolved = registry.resolve({o->task});
    if (resolved.size() != 1 || resolved.front()->name != o->task)
      throw InputError(fmt::format("'{}' is a group; --task takes one task (`keval tasks` lists them)", o->task));
    const TaskConfig& task = *resolved.front();
    auto samples = registry.samples(task, o->num_fewshot, o->limit, o->fewshot_seed);
    for (const auto& s : samples) {
      nlohmann::json j = sample_json(task, s);
      if (o->json) {
        fmt::print("{}\n", j.dump());
        continue;
      }
      fmt::print("── {} / {} ──\n", s.task, s.id);
      if (task.output_type == OutputType::dialogue) {
        for (size_t t = 0; t < s.turns.size(); ++t) fmt::print("[turn {}]\n{}\n", t + 1, s.turns[t]);
      } else {
        fmt::print("{}\n", s.prompt);
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
      }
      fmt::print("\n");
    }
    return 0;
  };
}

} // namespace keval::cli
