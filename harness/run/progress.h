#pragma once
// A progress bar with rate and ETA on stderr, drawn only when stderr is a terminal.
#include <chrono>
#include <string>

namespace keval {

class Progress {
public:
  Progress(size_t total, bool enabled);
  void advance(size_t n, const std::string& label);
  void finish();
  static bool stderr_is_terminal();

private:
  void draw(bool force);

  size_t m_total;
  size_t m_done = 0;
  bool m_enabled;
  bool m_drawn = false;
  std::string m_label;
  std::chrono::steady_clock::time_point m_start;
  std::chrono::steady_clock::time_point m_last_draw;
};

} // namespace keval
