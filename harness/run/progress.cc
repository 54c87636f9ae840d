#include "progress.h"

#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>

namespace keval {

Progress::Progress(size_t total, bool enabled)
    : m_total(total), m_enabled(enabled), m_start(std::chrono::steady_clock::now()), m_last_draw(m_start) {}

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void Progress::advance(size_t n, const std::string& label) {
  m_done += n;
  m_label = label;
  draw(false);
}

void Progress::finish() {
  if (!m_enabled || !m_drawn) return;
  draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::draw(bool force) {
  if (!m_enabled) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - m_last_draw < std::chrono::milliseconds(100)) return;
  m_last_draw = now;
  m_drawn = true;
  double elapsed = std::chrono::duration<double>(now - m_start).count();
  double rate = elapsed > 0 ? static_cast<double>(m_done) / elapsed : 0;
  double fraction = m_total ? static_cast<double>(m_done) / static_cast<double>(m_total) : 1.0;
  constexpr int width = 28;
  int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  std::string eta = "--:--";
  if (rate > 0 && m_total >= m_done) {
    long long seconds = static_cast<long long>(static_cast<double>(m_total - m_done) / rate);
    eta = fmt::format("{:02}:{:02}", seconds / 60, seconds % 60);
  }
  std::string label = m_label.size() > 32 ? m_label.substr(0, 32) : m_label;
  fmt::print(stderr, "\r[{}] {}/{} {:5.1f}% {:8.1f} req/s ETA {} {:<32}", bar, m_done, m_total, fraction * 100, rate,
             eta, label);
  std::fflush(stderr);
}

} // namespace keval
