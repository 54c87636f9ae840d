#pragma once
// The one spelling of a request's identity in a run: "<task>/<sample id>/<turn>". The store,
// the response cache, the judge and the merge all meet on it, so it is built in one place.
#include <cstddef>
#include <functional>
#include <string>

#include <fmt/format.h>

namespace keval {

struct SampleKey {
  std::string task;
  std::string sample_id;
  int turn = 0;  // dialogue: 0-based turn; single-turn tasks: 0

  std::string str() const { return fmt::format("{}/{}/{}", task, sample_id, turn); }
  bool operator==(const SampleKey&) const = default;
};

} // namespace keval

template <> struct std::hash<keval::SampleKey> {
  size_t operator()(const keval::SampleKey& k) const noexcept {
    size_t h = std::hash<std::string>{}(k.task);
    h = h * 1000003u ^ std::hash<std::string>{}(k.sample_id);
    return h * 1000003u ^ std::hash<int>{}(k.turn);
  }
};
