#pragma once
// Errors come in two kinds, caught once at the CLI boundary:
//  - InputError: bad usage or bad input (a task file, a dataset, a replay line, a database
//    that is not keval's). Exit code 2. The message names the file, line or field.
//  - CheckFailed: the thing checked failed (a gate, a run past its failure limit). Exit code 1.
// A request that fails is not an exception: it is a Response with a failure kind.
#include <stdexcept>
#include <string>

namespace keval {

class InputError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class CheckFailed : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace keval
