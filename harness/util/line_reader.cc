#include "line_reader.h"

#include <cerrno>
#include <cstring>

#include "error.h"

namespace keval {
namespace {

std::string size_text(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

} // namespace

LineReader::LineReader(const std::string& path, size_t max_line_bytes)
    : m_path(path), m_max_line_bytes(max_line_bytes), m_file(std::fopen(path.c_str(), "rb"), &std::fclose) {
  if (!m_file) throw InputError("cannot read " + path + ": " + std::strerror(errno));
}

bool LineReader::fill() {
  if (m_eof) return false;
  if (m_offset > 0) {
    m_buffer.erase(0, m_offset);
    m_offset = 0;
  }
  char chunk[1 << 16];
  const size_t got = std::fread(chunk, 1, sizeof chunk, m_file.get());
  m_buffer.append(chunk, got);
  if (got < sizeof chunk) {
    // A directory opens fine on Linux and only fails here (EISDIR).
    if (std::ferror(m_file.get()))
      throw InputError("cannot read " + m_path + ": " + std::strerror(errno));
    m_eof = true;
  }
  return got > 0;
}

bool LineReader::next(std::string& line) {
  size_t scanned = 0;  // bytes after m_offset already known to hold no '\n'
  for (;;) {
    const size_t end = m_buffer.find('\n', m_offset + scanned);
    if (end != std::string::npos || m_eof) {
      if (end == std::string::npos && m_offset >= m_buffer.size()) return false;
      const size_t stop = end == std::string::npos ? m_buffer.size() : end;
      ++m_line_number;
      if (stop - m_offset > m_max_line_bytes)
        throw InputError(m_path + ":" + std::to_string(m_line_number) + ": line longer than " +
                         size_text(m_max_line_bytes) + " (the limit)");
      line.assign(m_buffer, m_offset, stop - m_offset);
      m_offset = end == std::string::npos ? m_buffer.size() : end + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (m_line_number == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
      return true;
    }
    scanned = m_buffer.size() - m_offset;
    if (scanned > m_max_line_bytes)
      throw InputError(m_path + ":" + std::to_string(m_line_number + 1) + ": line longer than " +
                       size_text(m_max_line_bytes) + " (the limit)");
    fill();
  }
}

} // namespace keval
