#pragma once
// SHA-256, for content-derived identities (configuration hashes, cache keys, dataset checks).
#include <string>
#include <string_view>

namespace keval {

class Sha256 {
public:
  Sha256();
  void update(std::string_view data);
  std::string hex_digest(); // finishes the hash; 64 lower-case hex digits

private:
  void block(const unsigned char* p);
  unsigned int m_state[8];
  unsigned char m_buffer[64];
  unsigned long long m_length = 0;
  size_t m_used = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::string& path); // throws InputError when unreadable

} // namespace keval
