// `keval runs` and `keval results`: read a database, never write it.
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "results_table.h"
#include "run_reference.h"
#include "store.h"
#include "error.h"

namespace keval::cli {
namespace {

Store open_existing(const std::string& db) {
  if (!std::filesystem::exists(db)) throw InputError(fmt::format("no keval database at {}", db));
  return Store(db, StoreAccess::read_only);
}

} // namespace

Action add_runs_command(CLI::App& app, const GlobalOptions&) {
  auto db = std::make_shared<std::string>(k_default_db);
  auto json = std::make_shared<bool>(false);
  app.add_option("--db", *db, "SQLite database")->capture_default_str();
  app.add_flag("--json", *json, "Print JSON");
  return [db, json]() {
    Store store = open_existing(*db);
    auto runs = store.list_runs();
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : runs) out.push_back(run_json(r));
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}", format_runs_table(runs));
    }
    return 0;
  };
}

Action add_results_command(CLI::App& app, const GlobalOptions&) {
  auto db = std::make_shared<std::string>(k_default_db);
  auto run = std::make_shared<std::string>();
  auto positional = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  auto prices = std::make_shared<Prices>();
  app.add_option("RUN", *positional, "Run id, name or latest (default: the latest)");
  app.add_option("--db", *db, "SQLite database")->capture_default_str();
  app.add_option("--run", *run, "Run id, name or latest (instead of the positional)");
  app.add_flag("--json", *json, "Print JSON");
  app.add_option("--price-in", prices->input, "USD per million prompt tokens (default: the price the run recorded)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--price-out", prices->output, "USD per million completion tokens (default: the price the run recorded)")
      ->check(CLI::NonNegativeNumber);
  return [db, run, positional, json, prices]() {
    assign_runs(*positional, {{"--run (RUN)", run.get(), false}}, "give `keval results RUN` or `keval results --run RUN`");
    Store store = open_existing(*db);
    const RunRecord record = find_run_or_fail(store, run->empty() ? "latest" : *run, "--run");
    auto results = store.load_task_results(record.id);
    explain_undefined_values(store, record, results);
    // Prices given here replace the recorded ones (both of them: a price left out is free).
    const Prices priced = prices->any() ? *prices : recorded_prices(record.config);
    const RunUsage usage = store.run_usage(record.id);
    if (*json) {
      nlohmann::json out = results_json(record, results);
      out["usage"] = usage_json(usage, priced);
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}{}", format_results_table(record, results), format_usage(usage, priced));
    }
    return 0;
  };
}

} // namespace keval::cli
