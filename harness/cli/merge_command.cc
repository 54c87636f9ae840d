// `keval merge`: shard databases of one run joined into one run (see harness/run/merge.h).
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "merge.h"
#include "results_table.h"
#include "error.h"

namespace keval::cli {

Action add_merge_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string db = k_default_db;
    std::vector<std::string> shards;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--db", o->db, "Database to merge into (created when missing; may hold other runs)")->capture_default_str();
  app.add_option("shards", o->shards, "Shard databases (from `keval run … --shard I/N --db SHARD.db`)")->required();
  app.add_flag("--json", o->json, "Print the merged run's results as JSON");
  return [o]() {
    for (const auto& shard : o->shards)
      if (std::filesystem::exists(shard) && std::filesystem::exists(o->db) &&
          std::filesystem::equivalent(shard, o->db))
        throw InputError(fmt::format("{} is both the shard and the database merged into", shard));
    Store store(o->db, true);
    MergeReport report = merge_shards(store, o->shards);
    if (o->json) {
      nlohmann::json j = results_json(report.run, report.results);
      j["merge"] = {{"shards", report.shard_count}, {"imported", report.imported}, {"unchanged", report.unchanged},
                    {"missing_shards", report.missing}, {"missing_samples", report.missing_samples}};
      fmt::print("{}\n", j.dump(2));
    } else {
      fmt::print("{}", format_results_table(report.run, report.results));
      if (!report.imported.empty()) fmt::print("imported shards {} of {}\n", fmt::join(report.imported, ", "), report.shard_count);
      if (!report.unchanged.empty())
        fmt::print("already merged, unchanged: shards {}\n", fmt::join(report.unchanged, ", "));
      if (!report.missing.empty())
        fmt::print("missing shards {} of {}: the run stays incomplete until they are merged\n", fmt::join(report.missing, ", "),
                   report.shard_count);
      for (const auto& [task, n] : report.missing_samples) fmt::print("{}: {} samples without a score\n", task, n);
      fmt::print("run id: {} ({}) in {}\n", report.run.id, report.run.status, o->db);
    }
    return 0;
  };
}

} // namespace keval::cli
