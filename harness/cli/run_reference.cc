#include "run_reference.h"

#include <fmt/format.h>

#include "error.h"
#include "text.h"

namespace keval::cli {

std::vector<std::string> assign_runs(const std::vector<std::string>& positionals, const std::vector<RunSlot>& slots,
                                     const std::string& usage) {
  size_t next = 0;
  for (const auto& slot : slots)
    if (slot.value->empty() && next < positionals.size()) *slot.value = positionals[next++];
  if (next < positionals.size())
    throw InputError(fmt::format("unexpected run '{}': {}", positionals[next], usage));
  std::vector<std::string> missing;
  for (const auto& slot : slots)
    if (slot.required && slot.value->empty()) missing.push_back(slot.name);
  return missing;
}

void fail_if_missing(const std::vector<std::string>& missing, const std::string& usage) {
  if (missing.empty()) return;
  std::string names = missing.back();
  if (missing.size() > 1) {
    const std::vector<std::string> head(missing.begin(), missing.end() - 1);
    names = text::join(head, ", ") + " and " + names;
  }
  throw InputError(usage.empty() ? fmt::format("missing {}", names) : fmt::format("missing {}: {}", names, usage));
}

RunRecord find_run_or_fail(Store& store, const std::string& spec, const std::string& role) {
  std::optional<RunRecord> record = store.find_run(spec);
  if (!record && spec == "latest") {
    record = store.latest_run();
    if (!record) throw InputError(fmt::format("{}: {} holds no run yet", role, store.path()));
  }
  if (record) return *record;
  std::vector<std::string> names;
  for (const auto& r : store.list_runs()) names.push_back(r.name);
  const auto near = text::closest(spec, names);
  throw InputError(fmt::format("{}: no run '{}' in {}{} (`keval runs --db {}` lists them)", role, spec, store.path(),
                               near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near.front()),
                               store.path()));
}

} // namespace keval::cli
