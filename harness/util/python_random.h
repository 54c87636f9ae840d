#pragma once
// Python's `random.Random`, bit for bit, for the parts lm-evaluation-harness uses to draw
// few-shot examples (`Random(seed).sample(pool, k)`): MT19937 seeded as CPython seeds it from an
// int (init_by_array over the seed's 32-bit words), `getrandbits`, `_randbelow` by rejection and
// `sample` with CPython's choice between a pool list and a selected set. Ported from CPython's
// Modules/_randommodule.c and Lib/random.py (3.11; unchanged in these parts since 3.2).
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace keval {

class PythonRandom {
public:
  // `Random(seed)` for an int seed: CPython seeds with |seed|.
  explicit PythonRandom(std::int64_t seed);

  std::uint32_t next_uint32();                 // genrand_uint32
  std::uint64_t getrandbits(int bits);         // 0 <= bits <= 64
  std::uint64_t randbelow(std::uint64_t n);    // uniform in [0, n); n > 0
  double random();                             // random.random(): 53-bit float in [0, 1)
  // Indices of `random.sample(range(population), k)`, in the order Python returns them.
  // Throws std::invalid_argument when k > population (Python's ValueError).
  std::vector<std::size_t> sample(std::size_t population, std::size_t k);
  // `random.shuffle(x)` over indices 0..n-1: the permutation Python leaves in x.
  std::vector<std::size_t> shuffled(std::size_t n);

private:
  static constexpr int k_state_words = 624;
  void init_genrand(std::uint32_t seed);
  void init_by_array(const std::vector<std::uint32_t>& key);
  std::array<std::uint32_t, k_state_words> m_state{};
  int m_index = k_state_words + 1;
};

} // namespace keval
