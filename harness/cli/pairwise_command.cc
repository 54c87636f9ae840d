// `keval pairwise`: two stored runs' answers to a judged dialogue task (KoMT-Bench) compared by a
// judge model in both orders; prints win, tie and loss rates for run A. The judge's verdicts are
// kept in the database's response cache, so a second (or interrupted) comparison asks again only
// what it has not been answered.
#include <filesystem>

#include <fmt/format.h>

#include "answer_text.h"
#include "commands.h"
#include "judging.h"
#include "progress.h"
#include "run_reference.h"
#include "backend_flags.h"
#include "backend_requirements.h"
#include "run_lock.h"
#include "sample_key.h"
#include "store.h"
#include "error.h"
#include "text.h"

namespace keval::cli {
namespace {

RunAnswers answers_of(Store& store, const RunRecord& run, const std::string& task) {
  // The answers as the run scored and judged them.
  const ThinkPolicy policy = think_policy(run.config.value("keep_think", false));
  RunAnswers out;
  for (const auto& r : store.load_responses(run.id, task))
    if (r.response.ok()) out[SampleKey{r.task, r.sample_id, r.turn}.str()] = answer_text(r.response.text, policy);
  return out;
}

nlohmann::json tally_json(const PairwiseTally& t) {
  const double n = static_cast<double>(t.n());
  auto rate = [&](long long k) { return t.n() ? nlohmann::json(static_cast<double>(k) / n) : nlohmann::json(nullptr); };
  return {{"n", t.n()},          {"win", t.win},           {"tie", t.tie},          {"loss", t.loss},
          {"win_rate", rate(t.win)}, {"tie_rate", rate(t.tie)}, {"loss_rate", rate(t.loss)},
          {"n_judge_failed", t.judge_failed}};
}

std::string tally_row(const std::string& label, const PairwiseTally& t) {
  if (!t.n()) return fmt::format("{:<6} {:>5} {:>7} {:>7} {:>7}  {:>9}\n", label, 0, "-", "-", "-", t.judge_failed);
  const double n = static_cast<double>(t.n());
  return fmt::format("{:<6} {:>5} {:>7.3f} {:>7.3f} {:>7.3f}  {:>9}\n", label, t.n(), static_cast<double>(t.win) / n,
                     static_cast<double>(t.tie) / n, static_cast<double>(t.loss) / n, t.judge_failed);
}

} // namespace

Action add_pairwise_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string db = k_default_db;
    std::vector<std::string> runs;
    std::string run_a, run_b;
    std::string task = "komt_bench";
    BackendOptions judge;
    bool no_cache = false;
    bool json = false;
    bool no_progress = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("RUNS", o->runs,
                 "RUN_A RUN_B: the run whose win rate is reported, then the run it is compared with (id, name or latest)");
  app.add_option("--candidate", o->run_a, "RUN_A, the run whose win rate is reported (instead of the first positional)");
  app.add_option("--baseline", o->run_b, "RUN_B, the run it is compared with (instead of the second positional)");
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_option("--task,--tasks", o->task, "A dialogue task judged by the mt_bench protocol")->capture_default_str();
  add_backend_flags(app, o->judge, BackendRole::judge);
  add_execution_flags(app, o->judge, BackendRole::judge);
  app.footer(backend_kinds_help(BackendRole::judge));
  app.add_flag("--no-cache", o->no_cache, "Ask the judge again even where the database has its verdict cached");
  app.add_flag("--json", o->json, "Print JSON");
  app.add_flag("--no-progress", o->no_progress, "Never draw the progress bar");
  return [o, &global]() {
    std::vector<std::string> missing =
        assign_runs(o->runs, {{"--candidate (RUN_A)", &o->run_a}, {"--baseline (RUN_B)", &o->run_b}},
                    "give `keval pairwise RUN_A RUN_B` or `keval pairwise --candidate RUN_A --baseline RUN_B`");
    if (o->judge.kind.empty())
      missing.push_back(fmt::format("--judge-backend ({})", backend_kind_list(BackendRole::judge, ", ")));
    for (auto& m : missing_backend_options(o->judge, "--judge-")) missing.push_back(std::move(m));
    fail_if_missing(missing, "");
    if (!std::filesystem::exists(o->db)) throw InputError(fmt::format("no keval database at {}", o->db));
    TaskRegistry registry(global.paths());
    // A group or suite is refused: the judge's pair protocol compares one task's answers.
    const auto resolved = registry.resolve({o->task});
    if (resolved.size() != 1)
      throw InputError(fmt::format("--task: '{}' names {} tasks; pairwise compares one dialogue task", o->task, resolved.size()));
    const TaskConfig* task = resolved.front();
    o->task = task->name;
    if (!task->judge) throw InputError(fmt::format("--task: '{}' has no judge protocol", o->task));
    PairwiseProtocol protocol(*task->judge, registry.judge_data(*task));
    o->judge.judge = true;
    auto backend = make_backend(o->judge);

    Store store(o->db, StoreAccess::read_write);
    RunRecord runs[2];
    const std::string* names[2] = {&o->run_a, &o->run_b};
    for (int i = 0; i < 2; ++i) {
      runs[i] = find_run_or_fail(store, *names[i], i == 0 ? "--candidate (RUN_A)" : "--baseline (RUN_B)");
      bool has_task = false;
      for (const auto& t : runs[i].config.value("tasks", nlohmann::json::array())) has_task = has_task || t.value("name", "") == o->task;
      if (!has_task) throw InputError(fmt::format("run {} ({}) did not evaluate {}", runs[i].name, runs[i].id, o->task));
    }
    for (const auto& t : runs[0].config.at("tasks"))
      for (const auto& u : runs[1].config.at("tasks"))
        if (t.value("name", "") == o->task && u.value("name", "") == o->task && t.value("hash", "") != u.value("hash", ""))
          fmt::print(stderr, "warning: the two runs evaluated different versions of {} (task hashes differ)\n", o->task);
    const RunAnswers answers_a = answers_of(store, runs[0], o->task);
    const RunAnswers answers_b = answers_of(store, runs[1], o->task);
    // Samples are rebuilt as each run saw them: the questions, categories and references.
    const std::vector<Sample> samples = registry.samples(*task, std::nullopt, std::nullopt);

    Progress progress(4 * samples.size(), !o->no_progress && Progress::stderr_is_terminal());
    // The verdicts are stored under run A: not while another process writes that run.
    const RunLock lock(o->db, runs[0].id);
    CommitPacer pacer(store, 64);
    JudgePhase phase{store, runs[0].id, *backend, o->judge, !o->no_cache, progress, pacer};
    PairwiseResult result;
    try {
      result = judge_pairwise(phase, protocol, *task, samples, answers_a, answers_b);
      pacer.flush();
    } catch (...) {
      try {
        pacer.flush(); // the verdicts had are paid for: kept for the next attempt
      } catch (...) {
      }
      throw;
    }
    progress.finish();

    nlohmann::json judge = {{"kind", o->judge.kind}, {"model", o->judge.model}, {"protocol", protocol.describe()}};
    if (o->json) {
      nlohmann::json turns = nlohmann::json::array();
      for (size_t t = 0; t < result.turns.size(); ++t) {
        nlohmann::json row = tally_json(result.turns[t]);
        row["turn"] = t + 1;
        turns.push_back(row);
      }
      auto run_json = [](const RunRecord& r) {
        return nlohmann::json{{"id", r.id}, {"name", r.name}, {"model", r.model}, {"backend", r.backend}};
      };
      nlohmann::json out = {{"task", o->task}, {"a", run_json(runs[0])}, {"b", run_json(runs[1])}, {"judge", judge},
                            {"turns", turns}, {"overall", tally_json(result.overall)}, {"failures", result.failures}};
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}: A = {} ({}{}) vs B = {} ({}{})\n", o->task, runs[0].name, runs[0].id,
                 runs[0].model.empty() ? "" : ", " + runs[0].model, runs[1].name, runs[1].id,
                 runs[1].model.empty() ? "" : ", " + runs[1].model);
      fmt::print("judge {}{}, pair-v2 prompts (sha256 {}), both orders; a win needs both orders to agree\n",
                 o->judge.kind, o->judge.model.empty() ? "" : " " + o->judge.model,
                 protocol.describe().value("prompt_sha256", "").substr(0, 12));
      fmt::print("{:<6} {:>5} {:>7} {:>7} {:>7}  {:>9}\n", "turn", "n", "A wins", "ties", "A loses", "judge failed");
      for (size_t t = 0; t < result.turns.size(); ++t) fmt::print("{}", tally_row(std::to_string(t + 1), result.turns[t]));
      fmt::print("{}", tally_row("all", result.overall));
      for (const auto& f : result.failures) fmt::print("judge failure: {}\n", f);
    }
    return 0;
  };
}

} // namespace keval::cli
