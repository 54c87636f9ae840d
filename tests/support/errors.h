#pragma once
// Test support: the message of the InputError a call throws.
#include <exception>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "error.h"

namespace keval::testing {

// The InputError's message, or a test failure when `f` throws nothing or something else.
inline std::string expect_input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected InputError, nothing thrown";
  return {};
}

} // namespace keval::testing
