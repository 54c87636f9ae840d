#pragma once
// Statuses and modes, typed: stored as the strings to_string() gives, read back with the
// parse_* functions, which refuse what they do not know.
#include <optional>
#include <string_view>

namespace keval {

// How a task's samples are asked.
enum class AskMode { loglik, generate, dialogue };
// What a sample's stored score says.
enum class SampleStatus { scored, unparsed, failed, judge_failed };
// Where a run stands. incomplete: finished with failed samples (`--resume` retries them).
enum class RunStatus { running, complete, incomplete, failed, aborted };

constexpr std::string_view to_string(AskMode m) {
  switch (m) {
  case AskMode::loglik: return "loglik";
  case AskMode::generate: return "generate";
  case AskMode::dialogue: return "dialogue";
  }
  return "?";
}
constexpr std::string_view to_string(SampleStatus s) {
  switch (s) {
  case SampleStatus::scored: return "scored";
  case SampleStatus::unparsed: return "unparsed";
  case SampleStatus::failed: return "failed";
  case SampleStatus::judge_failed: return "judge_failed";
  }
  return "?";
}
constexpr std::string_view to_string(RunStatus s) {
  switch (s) {
  case RunStatus::running: return "running";
  case RunStatus::complete: return "complete";
  case RunStatus::incomplete: return "incomplete";
  case RunStatus::failed: return "failed";
  case RunStatus::aborted: return "aborted";
  }
  return "?";
}

template <typename Enum, Enum... values> constexpr std::optional<Enum> parse_enum(std::string_view s) {
  std::optional<Enum> found;
  ((to_string(values) == s ? (found = values, 0) : 0), ...);
  return found;
}
constexpr std::optional<AskMode> parse_ask_mode(std::string_view s) {
  return parse_enum<AskMode, AskMode::loglik, AskMode::generate, AskMode::dialogue>(s);
}
constexpr std::optional<SampleStatus> parse_sample_status(std::string_view s) {
  return parse_enum<SampleStatus, SampleStatus::scored, SampleStatus::unparsed, SampleStatus::failed,
                    SampleStatus::judge_failed>(s);
}
constexpr std::optional<RunStatus> parse_run_status(std::string_view s) {
  return parse_enum<RunStatus, RunStatus::running, RunStatus::complete, RunStatus::incomplete, RunStatus::failed,
                    RunStatus::aborted>(s);
}
// Whether a run in this status has ended (it gets a finish time).
constexpr bool is_terminal(RunStatus s) { return s != RunStatus::running; }

} // namespace keval
