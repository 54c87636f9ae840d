#include "python_random.h"

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/cli.h"

namespace keval {
namespace {

// The seeds, then per seed a sequence of (population, k) draws from ONE generator, so the
// generator's state carries across calls as it does across the documents of a task.
const std::vector<long long> k_seeds = {0, 1, 2, 42, 1234, 1235, 4321, 65535, 2147483647, 4294967295LL,
                                        4294967296LL, 123456789012345LL, -1, -1234, 9223372036854775807LL};
const std::vector<std::pair<size_t, size_t>> k_draws = {
    {5, 5},   {5, 1},    {1, 1},    {2, 2},     {6, 6},     {21, 5},    {22, 5},    {21, 6},   {30, 6},
    {31, 6},  {85, 10},  {86, 10},  {100, 5},   {100, 6},   {200, 21},  {1000, 6},  {3665, 5}, {3665, 6},
    {4000, 50}, {7, 0},  {50, 50},  {1000, 999}, {65536, 11}, {1u << 20, 3}, {3, 2}, {1, 0}};

// Runs python3 over the same seeds and draws; one line per draw: the indices, space-separated,
// then lines for getrandbits(k) over k in 1..64 and random().
std::string python_output() {
  testing::ScratchDir dir;
  std::ostringstream script;
  script << "import random\nseeds = [";
  for (long long s : k_seeds) script << s << ",";
  script << "]\ndraws = [";
  for (auto [n, k] : k_draws) script << "(" << n << "," << k << "),";
  script << "]\n"
            "for s in seeds:\n"
            "    r = random.Random(s)\n"
            "    for n, k in draws:\n"
            "        print(' '.join(str(x) for x in r.sample(range(n), k)))\n"
            "    print(' '.join(str(r.getrandbits(b)) for b in range(0, 65)))\n"
            "    print(repr(r.random()))\n"
            "    x = list(range(40)); r.shuffle(x); print(' '.join(map(str, x)))\n";
  testing::write_file(dir.path() / "draw.py", script.str());
  std::string cmd = "python3 " + dir / "draw.py" + " >" + dir / "out";
  if (std::system(cmd.c_str()) != 0) return "";
  return testing::slurp(dir.path() / "out");
}

std::string join(const std::vector<size_t>& xs) {
  std::string out;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(xs[i]);
  }
  return out;
}

TEST(PythonRandom, SamplesEqualPython3sRandomModule) {
  const std::string expected = python_output();
  ASSERT_FALSE(expected.empty()) << "python3 did not run";
  std::istringstream lines(expected);
  std::string line;
  size_t compared = 0;
  for (long long seed : k_seeds) {
    PythonRandom r(seed);
    for (auto [n, k] : k_draws) {
      ASSERT_TRUE(std::getline(lines, line));
      EXPECT_EQ(join(r.sample(n, k)), line) << "seed " << seed << ", sample(range(" << n << "), " << k << ")";
      ++compared;
    }
    ASSERT_TRUE(std::getline(lines, line));
    std::string bits;
    for (int b = 0; b <= 64; ++b) {
      if (b) bits += ' ';
      bits += std::to_string(r.getrandbits(b));
    }
    EXPECT_EQ(bits, line) << "seed " << seed << ", getrandbits";
    ASSERT_TRUE(std::getline(lines, line));
    // Python prints the shortest text that reads back as the same double.
    EXPECT_EQ(r.random(), std::strtod(line.c_str(), nullptr)) << "seed " << seed << ", random()";
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_EQ(join(r.shuffled(40)), line) << "seed " << seed << ", shuffle";
  }
  EXPECT_EQ(compared, k_seeds.size() * k_draws.size());
  EXPECT_FALSE(std::getline(lines, line)) << "python printed more than was compared";
}

TEST(PythonRandom, SampleLargerThanPopulationIsRejected) {
  PythonRandom r(1234);
  EXPECT_THROW(r.sample(3, 4), std::invalid_argument);
  EXPECT_TRUE(r.sample(0, 0).empty());
}

} // namespace
} // namespace keval
