#pragma once
// Shared by the fuzz targets: the property every parser must keep is that any input either
// parses or raises InputError (exit 2). Anything else (a crash, a sanitizer report, another
// exception escaping) is a finding: libFuzzer reports an uncaught exception as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>

namespace keval::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A file in a private temporary directory holding the input, for parsers that read files.
inline std::string scratch_file(const char* name) {
  static const std::string dir = [] {
    char pattern[] = "/tmp/keval-fuzz-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (!made) std::abort();
    return std::string(made);
  }();
  return dir + "/" + name;
}

inline void write_input(const std::string& path, std::string_view content) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!content.empty() && std::fwrite(content.data(), 1, content.size(), f) != content.size()) std::abort();
  std::fclose(f);
}

} // namespace keval::fuzz
