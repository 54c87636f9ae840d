#include "aggregate.h"

#include <map>
#include <optional>
#include <set>
#include <string>

#include <fmt/format.h>

#include "estimators.h"
#include "judge.h"
#include "metrics.h"
#include "status.h"

namespace keval {

namespace {

TaskResult to_task_result(const std::string& task, const std::string& metric, const MetricEstimate& e) {
  TaskResult r;
  r.task = task;
  r.metric = metric;
  r.value = e.value;
  r.stderr_value = e.stderr_value;
  r.ci_low = e.ci_low;
  r.ci_high = e.ci_high;
  r.n = e.n;
  return r;
}

// One group metric from its members' results (every member reports it): macro weighs members
// equally, micro by their scored samples; members are independent samples.
TaskResult group_result(const std::string& group, const std::string& metric, const std::string& aggregate,
                        const std::vector<const TaskResult*>& members) {
  std::vector<stats::Component> parts;
  TaskResult r;
  for (const TaskResult* member : members) {
    r.n_failed += member->n_failed;
    r.n_unparsed += member->n_unparsed;
    r.n_judge_failed += member->n_judge_failed;
    parts.push_back({member->value, member->stderr_value,
                     aggregate == "micro" ? static_cast<double>(member->n) : 1.0, member->n});
  }
  const long long failed = r.n_failed, unparsed = r.n_unparsed, judge_failed = r.n_judge_failed;
  r = to_task_result(group, metric, stats::combine_independent(parts));
  r.n_failed = failed;
  r.n_unparsed = unparsed;
  r.n_judge_failed = judge_failed;
  r.is_group = true;
  r.aggregation = aggregate;
  return r;
}

} // namespace

std::vector<TaskResult> compute_results(Store& store, const RunRecord& run) {
  std::vector<TaskResult> results;
  std::map<std::string, std::map<std::string, TaskResult>> by_task;  // task -> metric -> result
  for (const auto& task : run.config.at("tasks")) {
    std::string name = task.at("name");
    // `scored`: every sample a judge metric counts; `answered`: also those whose judge failed
    // but whose scorer's values were kept (judge_failure_score), which the scorer's metrics count.
    // One copy of each score: `scored` is built from `answered` only where a judge metric asks for
    // it (judged tasks are small; a 100,000-sample task's scores are held once).
    std::vector<SampleScore> answered;
    std::vector<bool> judge_counts;  // parallel to `answered`: the judge rated the sample
    long long failed = 0, unparsed = 0, judge_failed = 0;
    long long unanswered_judge_failed = 0;  // judge failures stored without the scorer's values (older runs)
    // One stored score at a time: a large task's parsed score JSON is never all in memory.
    store.for_each_score(run.id, name, [&](StoredScore&& s) {
      const std::optional<SampleStatus> status = parse_sample_status(s.status);
      if (status == SampleStatus::failed) {
        ++failed;
        return;
      }
      if (status == SampleStatus::judge_failed) {
        ++judge_failed;
        if (s.score.contains("values")) {
          answered.push_back(SampleScore::from_json(s.score));
          judge_counts.push_back(false);
        } else {
          ++unanswered_judge_failed;
        }
        return;
      }
      if (status == SampleStatus::unparsed) ++unparsed;
      // Scored, but a turn has no rating (left out, or 0 where the protocol counts it so).
      if (s.score.contains("meta") && s.score["meta"].contains("judge_failed_turns")) ++judge_failed;
      answered.push_back(SampleScore::from_json(s.score));
      judge_counts.push_back(true);
    });
    std::optional<std::vector<SampleScore>> scored_samples;
    auto scored = [&]() -> const std::vector<SampleScore>& {
      if (!scored_samples) {
        scored_samples.emplace();
        for (size_t i = 0; i < answered.size(); ++i)
          if (judge_counts[i]) scored_samples->push_back(answered[i]);
      }
      return *scored_samples;
    };
    // A judge metric leaves out the samples the judge failed on; the scorer's metrics only those
    // whose scorer values were not kept.
    auto add = [&](const std::string& metric, const std::string& shown, const std::vector<SampleScore>& samples,
                   long long left_out_by_judge) {
      TaskResult r = to_task_result(name, shown, aggregate_metric(metric, samples));
      r.n_failed = failed;
      r.n_unparsed = unparsed;
      r.n_judge_failed = left_out_by_judge;
      by_task[name][shown] = r;
      results.push_back(r);
    };
    const bool loglikelihood = task.value("mode", "loglik") == "loglik";
    for (const std::string metric : task.at("metrics")) {
      const MetricDefinition* definition = find_metric(metric);
      if (definition && definition->loglikelihood_only && !loglikelihood) continue;
      if (is_judge_metric(metric)) add(metric, metric, scored(), judge_failed);
      else add(metric, metric, answered, unanswered_judge_failed);
    }
    // Judge metrics per category ("judge_score/math"), categories in the order they first appear.
    std::vector<std::string> categories;
    std::map<std::string, std::vector<SampleScore>> by_category;
    for (const auto& metric : task.value("breakdown_metrics", nlohmann::json::array())) {
      if (categories.empty())
        for (const auto& s : scored()) {
          const std::string c = s.meta.value("category", "");
          if (c.empty()) continue;
          if (!by_category.count(c)) categories.push_back(c);
          by_category[c].push_back(s);
        }
      for (const auto& c : categories) add(metric, fmt::format("{}/{}", metric.get<std::string>(), c), by_category[c], judge_failed);
    }
  }
  // Groups, innermost first: a group's members are tasks or groups already computed.
  std::set<std::string> done;
  const nlohmann::json groups = run.config.value("groups", nlohmann::json::array());
  for (size_t pass = 0; pass < groups.size() + 1 && done.size() < groups.size(); ++pass) {
    for (const auto& g : groups) {
      std::string name = g.at("name");
      if (done.count(name)) continue;
      bool ready = true;
      for (const auto& m : g.at("members")) ready = ready && by_task.count(m.get<std::string>());
      if (!ready) continue;
      done.insert(name);
      const std::string aggregate = g.value("aggregate", "macro");
      // Metrics every member reports.
      std::map<std::string, size_t> counts;
      for (const auto& m : g.at("members"))
        for (const auto& [metric, r] : by_task[m.get<std::string>()]) counts[metric]++;
      for (const auto& [metric, count] : counts) {
        if (count != g.at("members").size()) continue;
        std::vector<const TaskResult*> members;
        for (const auto& m : g.at("members")) members.push_back(&by_task[m.get<std::string>()][metric]);
        TaskResult r = group_result(name, metric, aggregate, members);
        by_task[name][metric] = r;
        results.push_back(r);
      }
    }
  }
  return results;
}

} // namespace keval
