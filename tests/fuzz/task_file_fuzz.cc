// Task and group files (tasks/*.yaml): any bytes load or raise InputError.
#include "fuzz_support.h"
#include "task_loader.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = keval::fuzz::scratch_file("task.yaml");
  keval::fuzz::write_input(path, keval::fuzz::as_text(data, size));
  try {
    keval::load_task_file(path, "tasks/fuzz.yaml");
  } catch (const keval::InputError&) {
  }
  return 0;
}
