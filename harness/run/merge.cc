#include "merge.h"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runner.h"
#include "status.h"
#include "error.h"
#include "sha256.h"

namespace keval {
namespace {

struct ShardRun {
  std::string path;
  RunRecord run;
  size_t index = 0;
  size_t count = 0;
  std::string fingerprint;  // equal for the same shard run in the same state
};

// What decides a run's results, as config_hash sees it.
nlohmann::json deciding(nlohmann::json config) {
  for (const char* key : {"execution", "name", "shard", "merged"}) config.erase(key);
  return config;
}

// The first fields in which two deciding configurations differ, as "tasks", "backend.seed", ….
std::vector<std::string> differing_fields(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix = "") {
  std::vector<std::string> out;
  if (!a.is_object() || !b.is_object()) {
    if (a != b) out.push_back(prefix.empty() ? "configuration" : prefix);
    return out;
  }
  std::set<std::string> keys;
  for (const auto& [k, v] : a.items()) keys.insert(k);
  for (const auto& [k, v] : b.items()) keys.insert(k);
  for (const auto& k : keys) {
    const std::string name = prefix.empty() ? k : prefix + "." + k;
    if (!a.contains(k) || !b.contains(k)) out.push_back(name);
    else if (a.at(k) != b.at(k)) {
      auto inner = differing_fields(a.at(k), b.at(k), name);
      out.insert(out.end(), inner.begin(), inner.end());
    }
  }
  return out;
}

std::string describe_run(const ShardRun& s) {
  return fmt::format("{} (run {}, shard {}/{}, key {})", s.path, s.run.id, s.index, s.count, s.run.config_hash.substr(0, 12));
}

std::vector<ShardRun> read_shards(const std::vector<std::string>& paths) {
  std::vector<ShardRun> out;
  for (const auto& path : paths) {
    if (!std::filesystem::exists(path)) throw InputError(fmt::format("{}: no such shard database", path));
    Store shard(path, false);
    size_t found = 0;
    for (const auto& run : shard.list_runs()) {
      if (!run.config.contains("shard")) continue;
      ++found;
      ShardRun s;
      s.path = path;
      s.run = run;
      s.index = run.config.at("shard").at("index").get<size_t>();
      s.count = run.config.at("shard").at("count").get<size_t>();
      const auto scores = shard.count_scores(run.id);
      std::string counts;
      for (const auto& [task, by_status] : scores)
        for (const auto& [status, n] : by_status) counts += fmt::format("{}:{}:{};", task, status, n);
      s.fingerprint = sha256_hex(fmt::format("{}|{}|{}|{}", run.id, run.status, run.updated_at, counts)).substr(0, 16);
      out.push_back(std::move(s));
    }
    if (found == 0)
      throw InputError(fmt::format("{}: holds no shard run (shards are made by `keval run … --shard I/N`)", path));
  }
  return out;
}

void check_one_run(const std::vector<ShardRun>& shards) {
  const ShardRun& first = shards.front();
  for (const auto& s : shards) {
    if (s.run.config_hash != first.run.config_hash) {
      auto fields = differing_fields(deciding(first.run.config), deciding(s.run.config));
      throw InputError(fmt::format("{} and {} are shards of different runs (they differ in {}); merge each run's "
                                   "shards separately", describe_run(first), describe_run(s),
                                   fields.empty() ? std::string("their run key") : fmt::format("{}", fmt::join(fields, ", "))));
    }
    if (s.count != first.count)
      throw InputError(fmt::format("{} and {} split the run into different numbers of shards", describe_run(first),
                                   describe_run(s)));
    if (s.run.task_versions != first.run.task_versions)
      throw InputError(fmt::format("{} and {} evaluated different task versions", describe_run(first), describe_run(s)));
  }
  for (size_t i = 0; i < shards.size(); ++i)
    for (size_t j = i + 1; j < shards.size(); ++j)
      if (shards[i].index == shards[j].index && shards[i].fingerprint != shards[j].fingerprint)
        throw InputError(fmt::format("{} and {} are both shard {}; give one of them", describe_run(shards[i]),
                                     describe_run(shards[j]), shards[i].index));
}

// "random-20261201-120000-shard0of4" or "nightly-shard0" -> "random-20261201-120000", "nightly":
// the merged run is named for the command, not for one of its shards.
std::string merged_name(const std::string& shard_name) {
  static const std::regex suffix(R"(-shard[0-9]+(of[0-9]+)?$)");
  std::string name = std::regex_replace(shard_name, suffix, "");
  return name.empty() ? shard_name : name;
}

} // namespace

MergeReport merge_shards(Store& out, const std::vector<std::string>& shard_paths) {
  if (shard_paths.empty()) throw InputError("keval merge: give the shard databases to merge");
  std::vector<ShardRun> shards = read_shards(shard_paths);
  check_one_run(shards);
  std::sort(shards.begin(), shards.end(), [](const ShardRun& a, const ShardRun& b) { return a.index < b.index; });
  const ShardRun& first = shards.front();

  // The merged run of this key already in `out`, or a new one.
  std::optional<RunRecord> merged;
  for (const auto& run : out.list_runs())
    if (run.config_hash == first.run.config_hash && run.config.contains("merged")) merged = run;
  if (merged && merged->config.at("merged").at("count").get<size_t>() != first.count)
    throw InputError(fmt::format("{} already holds run {} merged from {} shards; {} has {}", out.path(), merged->id,
                                 merged->config.at("merged").at("count").get<size_t>(), describe_run(first), first.count));
  if (!merged) {
    RunRecord run = first.run;
    run.id = sha256_hex("merged|" + first.run.config_hash).substr(0, 12);
    if (out.find_run(run.id))
      throw InputError(fmt::format("{} already holds a run with id {} that is not a merge", out.path(), run.id));
    const std::string base = merged_name(first.run.name);
    run.name = base;
    for (int i = 2; out.find_run(run.name); ++i) run.name = fmt::format("{}-{}", base, i);
    run.config.erase("shard");
    run.config["name"] = run.name;
    run.config["merged"] = {{"count", first.count}, {"shards", nlohmann::json::object()}};
    run.status = to_string(RunStatus::running);
    run.created_at = first.run.created_at;
    for (const auto& s : shards) run.created_at = std::min(run.created_at, s.run.created_at);
    out.create_run(run);
    merged = *out.find_run(run.id);
  }

  MergeReport report;
  report.shard_count = first.count;
  nlohmann::json config = merged->config;
  nlohmann::json& recorded = config["merged"]["shards"];
  for (const auto& s : shards) {
    const std::string key = std::to_string(s.index);
    if (recorded.contains(key) && recorded[key].value("fingerprint", "") == s.fingerprint) {
      report.unchanged.push_back(s.index);
      continue;
    }
    out.import_run_rows(s.path, s.run.id, merged->id);
    recorded[key] = {{"run_id", s.run.id}, {"name", s.run.name}, {"status", s.run.status}, {"fingerprint", s.fingerprint}};
    report.imported.push_back(s.index);
  }
  out.update_run_config(merged->id, config);
  merged->config = config;

  for (size_t i = 0; i < first.count; ++i)
    if (!recorded.contains(std::to_string(i))) report.missing.push_back(i);
  const auto counts = out.count_scores(merged->id);
  bool all_scored = report.missing.empty();
  for (const auto& t : config.at("tasks")) {
    const std::string name = t.at("name");
    long long have = 0;
    if (auto it = counts.find(name); it != counts.end()) {
      for (const auto& [status, n] : it->second) {
        have += n;
        const auto parsed = parse_sample_status(status);
        if (parsed == SampleStatus::failed || parsed == SampleStatus::judge_failed) all_scored = false;
      }
    }
    const long long expected = t.value("n_samples", 0LL);
    if (have < expected) {
      report.missing_samples[name] = expected - have;
      all_scored = false;
    }
  }
  out.begin();
  try {
    report.results = compute_results(out, *merged);
    out.put_task_results(merged->id, report.results);
    out.commit();
  } catch (...) {
    out.rollback();
    throw;
  }
  out.set_run_status(merged->id, all_scored ? RunStatus::complete : RunStatus::incomplete);
  report.run = *out.find_run(merged->id);
  return report;
}

} // namespace keval
