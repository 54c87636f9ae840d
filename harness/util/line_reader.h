#pragma once
// Reads a text file one line at a time with a cap on a line's length, so that a line of hundreds
// of megabytes fails at once with its number instead of being held whole (replay files).
#include <cstdio>
#include <memory>
#include <string>

namespace keval {

inline constexpr size_t k_max_line_bytes = size_t{64} << 20;  // 64 MiB: far beyond any real answer

class LineReader {
public:
  // Throws InputError naming `path` when it cannot be opened.
  explicit LineReader(const std::string& path, size_t max_line_bytes = k_max_line_bytes);

  // The next line without its "\n" or "\r\n" (and without a UTF-8 byte-order mark on the first);
  // false at the end of the file. Throws InputError "path:N: …" for a line over the cap or a read error.
  bool next(std::string& line);
  // 1-based number of the line `next` returned last.
  size_t line_number() const { return m_line_number; }

private:
  bool fill();

  std::string m_path;
  size_t m_max_line_bytes;
  std::unique_ptr<FILE, int (*)(FILE*)> m_file;
  std::string m_buffer;      // bytes read and not yet returned, from m_offset
  size_t m_offset = 0;
  bool m_eof = false;
  size_t m_line_number = 0;
};

} // namespace keval
