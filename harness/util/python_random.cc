#include "python_random.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace keval {
namespace {
constexpr int k_period_offset = 397;  // MT19937's M
constexpr std::uint32_t k_matrix_a = 0x9908b0dfU;
constexpr std::uint32_t k_upper_mask = 0x80000000U;
constexpr std::uint32_t k_lower_mask = 0x7fffffffU;

int bit_length(std::uint64_t n) {
  int bits = 0;
  while (n) {
    ++bits;
    n >>= 1;
  }
  return bits;
}
} // namespace

PythonRandom::PythonRandom(std::int64_t seed) {
  // random_seed(): the int's absolute value as little-endian 32-bit words, [0] for zero.
  std::uint64_t n = seed < 0 ? 0 - static_cast<std::uint64_t>(seed) : static_cast<std::uint64_t>(seed);
  std::vector<std::uint32_t> key;
  while (n) {
    key.push_back(static_cast<std::uint32_t>(n & 0xffffffffU));
    n >>= 32;
  }
  if (key.empty()) key.push_back(0);
  init_by_array(key);
}

void PythonRandom::init_genrand(std::uint32_t seed) {
  m_state[0] = seed;
  for (int i = 1; i < k_state_words; ++i) {
    std::uint32_t prev = m_state[static_cast<size_t>(i - 1)];
    m_state[static_cast<size_t>(i)] = 1812433253U * (prev ^ (prev >> 30)) + static_cast<std::uint32_t>(i);
  }
  m_index = k_state_words;
}

void PythonRandom::init_by_array(const std::vector<std::uint32_t>& key) {
  init_genrand(19650218U);
  size_t i = 1, j = 0;
  const size_t n = k_state_words;
  for (size_t k = std::max(n, key.size()); k; --k) {
    std::uint32_t prev = m_state[i - 1];
    m_state[i] = (m_state[i] ^ ((prev ^ (prev >> 30)) * 1664525U)) + key[j] + static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= n) {
      m_state[0] = m_state[n - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (size_t k = n - 1; k; --k) {
    std::uint32_t prev = m_state[i - 1];
    m_state[i] = (m_state[i] ^ ((prev ^ (prev >> 30)) * 1566083941U)) - static_cast<std::uint32_t>(i);
    ++i;
    if (i >= n) {
      m_state[0] = m_state[n - 1];
      i = 1;
    }
  }
  m_state[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial array
}

std::uint32_t PythonRandom::next_uint32() {
  if (m_index >= k_state_words) {
    auto mix = [&](size_t at, size_t next, size_t far) {
      std::uint32_t y = (m_state[at] & k_upper_mask) | (m_state[next] & k_lower_mask);
      m_state[at] = m_state[far] ^ (y >> 1) ^ ((y & 1U) ? k_matrix_a : 0U);
    };
    size_t kk = 0;
    for (; kk < k_state_words - k_period_offset; ++kk) mix(kk, kk + 1, kk + k_period_offset);
    for (; kk < k_state_words - 1; ++kk) mix(kk, kk + 1, kk + k_period_offset - k_state_words);
    mix(k_state_words - 1, 0, k_period_offset - 1);
    m_index = 0;
  }
  std::uint32_t y = m_state[static_cast<size_t>(m_index++)];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

std::uint64_t PythonRandom::getrandbits(int bits) {
  if (bits < 0 || bits > 64) throw std::invalid_argument("getrandbits: 0 to 64 bits");
  if (bits == 0) return 0;
  if (bits <= 32) return next_uint32() >> (32 - bits);
  // Wider: 32-bit words from the least significant up, the last one's low bits dropped.
  std::uint64_t low = next_uint32();
  std::uint64_t high = next_uint32() >> (64 - bits);
  return low | (high << 32);
}

std::uint64_t PythonRandom::randbelow(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("randbelow: n must be positive");
  // _randbelow_with_getrandbits: n.bit_length() bits, redrawn until below n.
  const int bits = bit_length(n);
  std::uint64_t r = getrandbits(bits);
  while (r >= n) r = getrandbits(bits);
  return r;
}

double PythonRandom::random() {
  std::uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::vector<std::size_t> PythonRandom::sample(std::size_t n, std::size_t k) {
  if (k > n) throw std::invalid_argument("sample larger than population");
  std::vector<std::size_t> result(k);
  // Lib/random.py: a list pool when an n-list is smaller than a k-set, else a set of picks.
  // setsize += 4 ** ceil(log(3k, 4)) is computed in floating point, as Python does.
  double setsize = 21;
  if (k > 5) setsize += std::pow(4.0, std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0)));
  if (static_cast<double>(n) <= setsize) {
    std::vector<std::size_t> pool(n);
    for (std::size_t i = 0; i < n; ++i) pool[i] = i;
    for (std::size_t i = 0; i < k; ++i) {
      std::size_t j = static_cast<std::size_t>(randbelow(n - i));
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    std::unordered_set<std::size_t> selected;
    for (std::size_t i = 0; i < k; ++i) {
      std::size_t j = static_cast<std::size_t>(randbelow(n));
      while (selected.count(j)) j = static_cast<std::size_t>(randbelow(n));
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

std::vector<std::size_t> PythonRandom::shuffled(std::size_t n) {
  std::vector<std::size_t> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = i;
  for (std::size_t i = n; i-- > 1;) std::swap(x[i], x[static_cast<std::size_t>(randbelow(i + 1))]);
  return x;
}

} // namespace keval
