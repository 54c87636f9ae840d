#include "run_outcome.h"

#include <set>

#include <fmt/format.h>

#include "status.h"
#include "text.h"

namespace keval::cli {
namespace {

// "task 12, other 3", as MissingAnswers holds them.
std::string per_task(const MissingAnswers& missing) {
  std::vector<std::string> parts;
  for (const auto& [task, n] : missing.per_task) parts.push_back(fmt::format("{} {}", task, n));
  return text::join(parts, ", ");
}

// The stored reason of the task's first unscored sample, e.g. "connection: could not connect".
std::string first_failure(Store& store, const std::string& run_id, const std::string& task) {
  std::string reason;
  store.for_each_score(run_id, task, [&](StoredScore&& s) {
    const auto status = parse_sample_status(s.status);
    if (!reason.empty() || (status != SampleStatus::failed && status != SampleStatus::judge_failed)) return;
    reason = fmt::format("{}: {}", s.score.value("failure", s.status), s.score.value("message", ""));
  });
  return reason;
}

std::string missing_hint(const MissingAnswers& missing, const char* what, const char* option) {
  const std::string first = missing.per_task.begin()->first;
  return fmt::format("{} has no {} for {} samples ({}): they are failed, not scored. Add a line for each to {} "
                     "(`keval samples --task {} --json` lists the ids) and start a new run; --resume cannot help, "
                     "it reads the same {}",
                     missing.file, what, missing.total(), per_task(missing), missing.file, first, option);
}

// Samples whose request the server refused as longer than its context (FailureKind
// context_exceeded): neither a retry nor --resume can help, only a larger context or a shorter prompt.
struct ContextRefusals {
  long long model = 0, judge = 0;
  std::string example;
};

ContextRefusals context_refusals(Store& store, const RunSummary& summary) {
  ContextRefusals out;
  std::set<std::string> seen;
  for (const auto& r : summary.results) {
    if (r.is_group || r.n_failed + r.n_judge_failed == 0 || !seen.insert(r.task).second) continue;
    store.for_each_score(summary.run.id, r.task, [&](StoredScore&& s) {
      const std::string message = s.score.value("message", "");
      const bool model = s.status == "failed" && s.score.value("failure", "") == "context_exceeded";
      // A judge failure records its kind in its message: "judge request failed (context_exceeded): …".
      const bool judge = s.status == "judge_failed" && message.find("(context_exceeded)") != std::string::npos;
      out.model += model;
      out.judge += judge;
      if ((model || judge) && out.example.empty()) out.example = fmt::format("{}: {}", r.task, message);
    });
  }
  return out;
}

} // namespace

RunOutcome assess_run(Store& store, const RunSummary& summary) {
  RunOutcome out;
  const std::string& id = summary.run.id;
  const bool model_from_file = !summary.missing_answers.file.empty();
  const bool judge_from_file = !summary.missing_verdicts.file.empty();

  // Tasks without one scored sample: their headline is nothing at all.
  std::vector<std::string> unanswered;
  std::set<std::string> seen;
  size_t tasks = 0, never_answered = 0;
  for (const auto& r : summary.results) {
    if (r.is_group || !seen.insert(r.task).second) continue;
    ++tasks;
    if (r.n > 0 || r.n_failed + r.n_judge_failed == 0) continue;
    if (r.n_judge_failed == 0) ++never_answered;
    // A task whose answers all came but none was judged is told apart from one never answered.
    unanswered.push_back(fmt::format("{} ({} samples{}, e.g. {})", r.task, r.n_failed + r.n_judge_failed,
                                     r.n_failed ? "" : " without a judge verdict", first_failure(store, id, r.task)));
  }
  std::vector<std::string> reasons;
  if (!unanswered.empty())
    reasons.push_back(never_answered == tasks
                          ? fmt::format("every request of run {} failed: {}", id, text::join(unanswered, "; "))
                          : fmt::format("run {}: no answer at all for {}", id, text::join(unanswered, "; ")));
  if (summary.missing_answers.total()) reasons.push_back(missing_hint(summary.missing_answers, "answer", "--responses file"));
  if (summary.missing_verdicts.total())
    reasons.push_back(missing_hint(summary.missing_verdicts, "judge verdict", "--judge-responses file"));

  // Failures a second attempt can fix get the --resume hint; a file's do not.
  const std::string resume = fmt::format("`keval run --resume {} --db {}`", id, store.path());
  const long long failed = summary.n_failed - summary.missing_answers.total();
  // Refusals of a prompt longer than the server's context: what to change, never --resume.
  const ContextRefusals refused =
      summary.n_failed + summary.n_judge_failed > 0 ? context_refusals(store, summary) : ContextRefusals{};
  if (refused.model + refused.judge > 0)
    out.notes.push_back(fmt::format(
        "{} samples were refused as longer than the context of the {} server (e.g. {}); --resume cannot help: give the "
        "server a larger context (llama.cpp: -c is shared by its --parallel slots, each gets -c / --parallel; vLLM "
        "--max-model-len; SGLang --context-length; TGI --max-total-tokens) or shorten the prompts (--num-fewshot, "
        "--max-tokens), then start a new run",
        refused.model + refused.judge, refused.model && refused.judge ? "model's and the judge's" : refused.model ? "model's" : "judge's",
        refused.example));
  const long long retryable = failed - (model_from_file ? 0 : refused.model);
  // A replay line that does not fit its request (no log-probabilities, too few) is the file's
  // defect as much as a missing line is.
  if (failed > 0 && model_from_file) {
    std::string example;
    for (const auto& r : summary.results) {
      if (r.is_group || !example.empty()) continue;
      const auto missing = summary.missing_answers.per_task.find(r.task);
      if (r.n_failed > (missing == summary.missing_answers.per_task.end() ? 0 : missing->second))
        example = first_failure(store, id, r.task);
    }
    reasons.push_back(fmt::format("{} samples failed (not scored): their lines in {} do not fit the requests{}; fix "
                                  "the file and start a new run", failed, summary.missing_answers.file,
                                  example.empty() ? "" : " (e.g. " + example + ")"));
  } else if (retryable > 0) {
    out.notes.push_back(fmt::format("{} samples failed (not scored); {} retries them", retryable, resume));
  }
  const long long judge_failed = summary.n_judge_failed - summary.missing_verdicts.total() - refused.judge;
  if (judge_failed > 0)
    out.notes.push_back(judge_from_file
                            ? fmt::format("{} samples have no readable judge verdict in {} (not scored, not zero); "
                                          "fix the file and start a new run", judge_failed, summary.missing_verdicts.file)
                            : fmt::format("{} samples have no readable judge verdict (not scored, not zero); {} asks the "
                                          "judge again", judge_failed, resume));
  if (!unanswered.empty() && !model_from_file) {
    // Where the context refused every failed sample, only a new run with a larger context helps.
    if (refused.model + refused.judge >= summary.n_failed + summary.n_judge_failed)
      reasons.push_back("the server refused the prompts as longer than its context: give it a larger context or shorten "
                        "the prompts, then start a new run (--resume cannot help)");
    else
      reasons.push_back(fmt::format("once the cause is fixed, {} asks again", resume));
  }
  out.failure = text::join(reasons, "\n");
  return out;
}

} // namespace keval::cli
